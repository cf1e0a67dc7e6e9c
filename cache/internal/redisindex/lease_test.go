package redisindex

import (
	"strings"
	"testing"
)

// globMatch is Redis's glob matching for the patterns this package builds:
// '*' matches any bytes, '\' makes the next byte literal, and every other
// byte matches itself.
func globMatch(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if globMatch(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '\\':
			if len(pattern) > 1 {
				pattern = pattern[1:]
			}
		}
		if len(s) == 0 || s[0] != pattern[0] {
			return false
		}
		pattern, s = pattern[1:], s[1:]
	}
	return len(s) == 0
}

func leaseLayouts(t testing.TB) []Layout {
	var ls []Layout
	for _, cluster := range []bool{false, true} {
		l, err := NewLayout("test", "", 0, false, cluster)
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	return ls
}

func checkLease(t *testing.T, key, prefix string) {
	for _, l := range leaseLayouts(t) {
		lk := l.LeaseKey(key)
		if !strings.HasPrefix(lk, l.NS) {
			t.Fatalf("cluster %v: lease key %q outside the reserved prefix", l.Cluster, lk)
		}
		if l.Cluster && Slot(lk) != Slot(key) {
			t.Fatalf("lease key %q in slot %d, its key %q in slot %d", lk, Slot(lk), key, Slot(key))
		}
		if got, ok := l.LeaseOf(lk); !ok || got != key {
			t.Fatalf("cluster %v: LeaseOf(%q) = %q, %v; want %q", l.Cluster, lk, got, ok, key)
		}
		under := strings.HasPrefix(key, prefix)
		if under && !globMatch(l.LeaseMatch(prefix), lk) {
			t.Fatalf("cluster %v: LeaseMatch(%q) = %q does not match %q", l.Cluster, prefix, l.LeaseMatch(prefix), lk)
		}
		if kept := l.LeasesUnder([]string{lk}, prefix); (len(kept) == 1) != under {
			t.Fatalf("cluster %v: LeasesUnder(%q, %q) = %q; key under prefix: %v", l.Cluster, lk, prefix, kept, under)
		}
		keys, _, _ := l.LeaseKeys(key)
		if keys[0] != key || keys[1] != lk {
			t.Fatalf("LeaseKeys(%q) = %q", key, keys)
		}
		if l.Cluster {
			for _, k := range keys {
				if Slot(k) != Slot(key) {
					t.Fatalf("LeaseKeys(%q): %q is in slot %d, not %d", key, k, Slot(k), Slot(key))
				}
			}
		}
	}
}

func TestLeaseKeys(t *testing.T) {
	for _, c := range []struct{ key, prefix string }{
		{"viborm:user:findMany:h", "viborm:user:"},
		{"viborm:{user}:findMany:h", "viborm:{user}:"},
		{"viborm:a{b:c", "viborm:a{"},
		{"viborm:a}b{c}d", "viborm:a}"},
		{"viborm:}{x}", "viborm:}"},
		{"viborm:{}x}y", "viborm:{}"},
		{"viborm:*?[]\\", "viborm:*?["},
		{"viborm:user:x", "viborm:post:"},
	} {
		checkLease(t, c.key, c.prefix)
	}
}

func FuzzLeaseKey(f *testing.F) {
	for _, s := range []string{"viborm:user:findMany:h", "a{b}c", "}{", "{}", "x*y", "a\\b"} {
		f.Add(s, s[:len(s)/2])
	}
	f.Fuzz(func(t *testing.T, key, prefix string) {
		checkLease(t, key, prefix)
	})
}
