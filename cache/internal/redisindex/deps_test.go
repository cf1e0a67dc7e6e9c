package redisindex

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestDepKeys(t *testing.T) {
	single := Layout{NS: "ix:", Depth: 4}
	keys, sl := single.DepKeys("viborm:user:findMany:h", []string{"viborm:post", "viborm:tag", "viborm:post"})
	if !slices.Equal(keys, []string{"ix:d:viborm:post", "ix:d:viborm:tag"}) || sl != 0 {
		t.Errorf("single DepKeys = %q, %d", keys, sl)
	}
	if got := single.DepRegistryKey("viborm:post"); got != "ix:dr:viborm:post" {
		t.Errorf("DepRegistryKey = %q", got)
	}
	if got := single.DepLeasePrefix(keys[0]) + "k"; got != single.LeaseKey("k") {
		t.Errorf("single lease of k = %q, want %q", got, single.LeaseKey("k"))
	}
	cluster := Layout{NS: "ix:", Depth: 4, Cluster: true}
	if got := cluster.SlotDepKeys("t", []string{"5", "x", "-1", "16384", "16383"}); !slices.Equal(got, []string{cluster.DepKey("t", 5), cluster.DepKey("t", 16383)}) {
		t.Errorf("SlotDepKeys = %q", got)
	}
	if got := cluster.DepKey("viborm:post", 0); got != "ix:d{"+SlotTag(0)+"}:viborm:post" {
		t.Errorf("cluster DepKey = %q", got)
	}
}

// checkDeps checks the layout of the dependency index of key under tag.
func checkDeps(t *testing.T, key, tag string) {
	for _, l := range leaseLayouts(t) {
		keys, sl := l.DepKeys(key, []string{tag, tag})
		if len(keys) != 1 {
			t.Fatalf("cluster %v: DepKeys(%q, [%q %q]) = %q, want one key", l.Cluster, key, tag, tag, keys)
		}
		dk := keys[0]
		if dk != l.DepKey(tag, sl) || !strings.HasPrefix(dk, l.NS) {
			t.Fatalf("cluster %v: dependency set %q of %q", l.Cluster, dk, tag)
		}
		// The other bookkeeping keys continue the reserved prefix with
		// i: i{ r: l: l{; the dependency index never does.
		for _, other := range []string{"i:", "i{", "r:", "l:", "l{"} {
			if strings.HasPrefix(dk, l.NS+other) || strings.HasPrefix(l.DepRegistryKey(tag), l.NS+other) {
				t.Fatalf("cluster %v: %q or %q collides with the %q keys", l.Cluster, dk, l.DepRegistryKey(tag), other)
			}
		}
		if got := l.DepLeasePrefix(dk) + key; got != l.LeaseKey(key) {
			t.Fatalf("cluster %v: the script names the lease of %q %q, want %q", l.Cluster, key, got, l.LeaseKey(key))
		}
		if !l.Cluster {
			continue
		}
		if Slot(dk) != Slot(key) || sl != Slot(key) {
			t.Fatalf("dependency set %q in slot %d, its key %q in slot %d", dk, Slot(dk), key, Slot(key))
		}
		if got := l.SlotDepKeys(tag, []string{strconv.Itoa(sl)}); !slices.Equal(got, []string{dk}) {
			t.Fatalf("SlotDepKeys(%q, [%d]) = %q, want [%q]", tag, sl, got, dk)
		}
		// The set's name is a function of (tag, slot) that tells tags apart.
		if other := tag + "x"; l.DepKey(other, sl) == dk {
			t.Fatalf("tags %q and %q share the set %q", tag, other, dk)
		}
	}
}

func TestDepKeysLayout(t *testing.T) {
	for _, c := range []struct{ key, tag string }{
		{"viborm:user:findMany:h", "viborm:post"},
		{"viborm:{user}:findMany:h", "viborm:{post}"},
		{"viborm:a}b{c}d", "}{"},
		{"{}x}y", "viborm:_post_tag"},
		{"viborm:*?[]\\", "*"},
	} {
		checkDeps(t, c.key, c.tag)
	}
}

func FuzzDepKey(f *testing.F) {
	for _, s := range []string{"viborm:user:findMany:h", "a{b}c", "}{", "{}", "x*y", "a\\b"} {
		f.Add(s, "viborm:"+s)
	}
	f.Fuzz(func(t *testing.T, key, tag string) {
		checkDeps(t, key, tag)
	})
}
