package redisindex

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/viborm/viborm-go/cache"
)

// refHashString is the cluster specification's rule, written plainly: the
// bytes between the first '{' and the first '}' after it, when there is at
// least one; otherwise the whole key.
func refHashString(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return key
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return key
	}
	return key[i+1 : i+1+j]
}

func TestSlotKnownValues(t *testing.T) {
	// CRC16-XMODEM("123456789") = 0x31C3 (the cluster specification's check
	// value); rueidiscache.TestSlotMatchesServer checks the others against a
	// server.
	for key, want := range map[string]int{
		"123456789":            0x31C3 % NumSlots,
		"foo":                  12182,
		"{user1000}.following": 3443,
		"{user1000}.followers": 3443,
		"foo{}{bar}":           8363,
		"foo{{bar}}zap":        4015,
		"foo{bar}{zap}":        5061,
		"":                     0,
	} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestSlotTagsCoverEverySlot(t *testing.T) {
	tags := SlotTags()
	for s, tag := range tags {
		if tag == "" || strings.ContainsAny(tag, "{}") {
			t.Fatalf("tag of slot %d = %q", s, tag)
		}
		if got := Slot("x{" + tag + "}y"); got != s {
			t.Fatalf("tag %q of slot %d hashes to %d", tag, s, got)
		}
	}
}

func FuzzSlot(f *testing.F) {
	for _, s := range []string{"", "a", "{a}", "{}", "{}{a}", "a{b}c{d}", "}{a}", "{", "x{y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if got, want := Slot(key), int(crc16(refHashString(key)))%NumSlots; got != want {
			t.Fatalf("Slot(%q) = %d, want %d", key, got, want)
		}
	})
}

func FuzzPrefixes(f *testing.F) {
	f.Add("viborm:user:findMany:h", 4)
	f.Add("::::::", 2)
	f.Add("nocolon", 3)
	f.Fuzz(func(t *testing.T, key string, depth int) {
		depth = depth % 10
		got := Prefixes(key, depth, nil)
		var want []string
		for i := range len(key) {
			if key[i] == ':' && len(want) < depth {
				want = append(want, key[:i+1])
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("Prefixes(%q, %d) = %q, want %q", key, depth, got, want)
		}
	})
}

func TestNewLayout(t *testing.T) {
	l, err := NewLayout("x", "", 0, false, false)
	if err != nil || l.NS != DefaultPrefix || l.Depth != DefaultDepth {
		t.Errorf("NewLayout defaults = %+v, %v", l, err)
	}
	for _, tc := range []struct {
		prefix string
		depth  int
	}{{"a{", 0}, {"a}", 0}, {"", -1}} {
		_, err := NewLayout("x", tc.prefix, tc.depth, false, false)
		var ce *cache.ConfigError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Field, "x.Options.") {
			t.Errorf("NewLayout(%q, %d) = %v, want a *cache.ConfigError", tc.prefix, tc.depth, err)
		}
	}
}

func TestLayoutKeys(t *testing.T) {
	single := Layout{NS: "ix:", Depth: 2}
	keys, prefixes, sl := single.SetKeys("a:b:c:d")
	if !slices.Equal(keys, []string{"a:b:c:d", "ix:i:a:", "ix:i:a:b:"}) || !slices.Equal(prefixes, []string{"a:", "a:b:"}) || sl != 0 {
		t.Errorf("single SetKeys = %q, %q, %d", keys, prefixes, sl)
	}
	if keys, _, _ := single.SetKeys("plain"); keys != nil {
		t.Errorf("SetKeys(plain) = %q, want nil", keys)
	}
	cluster := Layout{NS: "ix:", Depth: 4, Cluster: true}
	keys, _, sl = cluster.SetKeys("{t}:a:b")
	if sl != Slot("t") {
		t.Errorf("cluster slot = %d, want %d", sl, Slot("t"))
	}
	for _, k := range keys {
		if Slot(k) != sl {
			t.Errorf("key %q is in slot %d, not %d", k, Slot(k), sl)
		}
	}
	if got := cluster.SlotIndexKeys("a:", []string{"5", "x", "-1", "16384"}); !slices.Equal(got, []string{cluster.IndexKey("a:", 5)}) {
		t.Errorf("SlotIndexKeys = %q", got)
	}
	for prefix, want := range map[string]bool{"a:": true, "a:b:c:d:": true, "a:b:c:d:e:": false, "a": false, "a:b": false} {
		if got := cluster.Indexed(prefix); got != want {
			t.Errorf("Indexed(%q) = %v", prefix, got)
		}
	}
	if (Layout{NS: "ix:", Depth: 4, NoIndex: true}).Indexed("a:") {
		t.Error("Indexed with NoIndex")
	}
	if got := single.Scanned([]string{"a:1", "ix:i:a:", "b:1", "a:2"}, "a:"); !slices.Equal(got, []string{"a:1", "a:2"}) {
		t.Errorf("Scanned = %q", got)
	}
}

func TestMatchPrefix(t *testing.T) {
	if got := MatchPrefix(`a*b?c[d]e\f`); got != `a\*b\?c\[d\]e\\f*` {
		t.Errorf("MatchPrefix = %q", got)
	}
}
