package cache_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
)

func mustKey(t *testing.T, args any, compat bool) string {
	t.Helper()
	k, err := cache.Key("user", "findMany", args, &cache.KeyOptions{Compat: compat})
	if err != nil {
		t.Fatalf("Key(%#v): %v", args, err)
	}
	return k
}

func TestKeyFormat(t *testing.T) {
	k, err := cache.Key("user", "findMany", map[string]any{"where": map[string]any{"active": true}}, &cache.KeyOptions{Version: "2"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(k, ":")
	if len(parts) != 5 || parts[0] != "viborm" || parts[1] != "v2" || parts[2] != "user" || parts[3] != "findMany" || len(parts[4]) != 32 {
		t.Fatalf("key %q is not viborm:v2:user:findMany:<32 hex digits>", k)
	}
}

func TestKeyIgnoresMapInsertionOrder(t *testing.T) {
	build := func(order []string) map[string]any {
		m := map[string]any{}
		for _, k := range order {
			m[k] = map[string]any{"v": k}
		}
		return m
	}
	a := mustKey(t, build([]string{"a", "b", "c", "d", "e", "f", "g", "h"}), false)
	for range 20 {
		if b := mustKey(t, build([]string{"h", "g", "f", "e", "d", "c", "b", "a"}), false); a != b {
			t.Fatalf("same map, different keys: %s %s", a, b)
		}
	}
	// Maps with non-string keys too.
	m1 := map[int]string{1: "a", 2: "b", 3: "c"}
	m2 := map[int]string{3: "c", 2: "b", 1: "a"}
	if mustKey(t, m1, false) != mustKey(t, m2, false) {
		t.Fatal("map[int]string keys depend on order")
	}
}

func TestKeyKindsNeverCollide(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	values := map[string]any{
		"int 1":          1,
		"float 1":        1.0,
		"string 1":       "1",
		"bytes 1":        []byte("1"),
		"bool true":      true,
		"string true":    "true",
		"nil":            nil,
		"string null":    "null",
		"empty string":   "",
		"empty bytes":    []byte{},
		"empty list":     []any{},
		"empty map":      map[string]any{},
		"time":           ts,
		"time string":    ts.Format(time.RFC3339Nano),
		"bigint 1":       big.NewInt(1),
		"json 1":         json.RawMessage("1"),
		"json string 1":  json.RawMessage(`"1"`),
		"list [1]":       []any{1},
		"list [\"1\"]":   []any{"1"},
		"list [1,2]":     []any{1, 2},
		"list [[1],2]":   []any{[]any{1}, 2},
		"list [1,[2]]":   []any{1, []any{2}},
		"map a:1":        map[string]any{"a": 1},
		"map a:\"1\"":    map[string]any{"a": "1"},
		"map a:nil":      map[string]any{"a": nil},
		"map ab:1":       map[string]any{"ab": 1},
		"map a:b1 split": map[string]any{"a": "b", "c": 1},
		"struct":         struct{ A int }{1},
	}
	seen := map[string]string{}
	for name, v := range values {
		k := mustKey(t, map[string]any{"where": v}, false)
		if other, dup := seen[k]; dup {
			t.Errorf("%s and %s share key %s", name, other, k)
		}
		seen[k] = name
	}
}

func TestKeyEquivalences(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	ts := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	type named string
	one := 1
	for _, tc := range []struct {
		name string
		a, b any
	}{
		{"integer kinds", map[string]any{"a": int8(5)}, map[string]any{"a": uint64(5)}},
		{"named string", map[string]any{"a": named("x")}, map[string]any{"a": "x"}},
		{"pointer followed", map[string]any{"a": &one}, map[string]any{"a": 1}},
		{"same instant, other zone", ts, ts.In(loc)},
		{"json member order", json.RawMessage(`{"a":1,"b":[true]}`), json.RawMessage(` { "b" : [ true ] , "a" : 1 } `)},
		{"negative zero", math.Copysign(0, -1), 0.0},
		{"negative zero float32", float32(math.Copysign(0, -1)), float32(0)},
		{"typed map", map[string]int{"a": 1}, map[string]any{"a": 1}},
		{"typed slice", []int{1, 2}, []any{1, 2}},
		{"byte array", [3]byte{1, 2, 3}, []byte{1, 2, 3}},
	} {
		if ka, kb := mustKey(t, tc.a, false), mustKey(t, tc.b, false); ka != kb {
			t.Errorf("%s: keys differ: %s vs %s", tc.name, ka, kb)
		}
	}
}

func TestKeyStructFields(t *testing.T) {
	type args struct {
		Where map[string]any `json:"where"`
		Take  *int           `json:"take"`
		Skip  int            `json:"skip,omitempty"`
		Note  string         `json:"-"`
		inner int
	}
	ten := 10
	base := mustKey(t, args{Where: map[string]any{"a": 1}}, false)
	if k := mustKey(t, args{Where: map[string]any{"a": 1}, Note: "ignored", inner: 3}, false); k != base {
		t.Error("ignored fields changed the key")
	}
	if k := mustKey(t, args{Where: map[string]any{"a": 1}, Take: &ten}, false); k == base {
		t.Error("Take did not change the key")
	}
	type opaque struct{ x, y int }
	_, err := cache.Key("m", "op", opaque{1, 2}, nil)
	if !errors.Is(err, cache.ErrInvalidKey) {
		t.Errorf("struct with only unexported fields: %v, want ErrInvalidKey", err)
	}
}

func TestKeyRejectsUnhashableArguments(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	list := []any{nil}
	list[0] = list
	type node struct{ Next *node }
	n := &node{}
	n.Next = n
	for name, v := range map[string]any{
		"NaN":          math.NaN(),
		"+Inf":         math.Inf(1),
		"float32 NaN":  float32(math.NaN()),
		"func":         func() {},
		"chan":         make(chan int),
		"complex":      complex(1, 2),
		"cyclic map":   cyclic,
		"cyclic slice": list,
		"cyclic ptr":   n,
		"bad json":     json.RawMessage(`{"a":`),
	} {
		for _, compat := range []bool{false, true} {
			_, err := cache.Key("user", "findMany", map[string]any{"where": map[string]any{"x": v}}, &cache.KeyOptions{Compat: compat})
			var ke *cache.KeyError
			if !errors.As(err, &ke) || !errors.Is(err, cache.ErrInvalidKey) {
				t.Errorf("%s (compat %v): got %v, want a *KeyError", name, compat, err)
			}
		}
	}
	_, err := cache.Key("user", "findMany", map[string]any{"where": map[string]any{"score": math.NaN()}}, nil)
	if !strings.Contains(err.Error(), "where.score") {
		t.Errorf("error %q does not name the path where.score", err)
	}
}

func TestKeyCompatFormatsLikeJavaScript(t *testing.T) {
	// Values the vectors do not cover, checked against the stringification
	// rules: they must hash like the equivalent JSON text.
	for _, tc := range []struct {
		name string
		a, b any
	}{
		{"int vs float", map[string]any{"a": 1}, map[string]any{"a": 1.0}},
		{"big float", map[string]any{"a": 1e21}, json.RawMessage(`{"a":1e+21}`)},
		{"small float", map[string]any{"a": 1e-7}, json.RawMessage(`{"a":1e-7}`)},
		{"struct as object", struct {
			A int `json:"a"`
		}{1}, map[string]any{"a": 1}},
	} {
		if ka, kb := mustKey(t, tc.a, true), mustKey(t, tc.b, true); ka != kb {
			t.Errorf("%s: %s vs %s", tc.name, ka, kb)
		}
	}
}

// The equal-keys table compares math.Copysign(0, -1) with 0: the literal
// -0.0 is +0 in Go, so a test written with it could not fail. This guards
// that the table's value really is negative zero, in both key modes.
func TestKeyNegativeZeroIsZero(t *testing.T) {
	negZero := math.Copysign(0, -1)
	if !math.Signbit(negZero) {
		t.Fatal("math.Copysign(0, -1) is not negative zero")
	}
	for _, compat := range []bool{false, true} {
		a := mustKey(t, map[string]any{"x": negZero}, compat)
		b := mustKey(t, map[string]any{"x": 0.0}, compat)
		if a != b {
			t.Errorf("compat=%v: -0 and 0 hash differently: %s vs %s", compat, a, b)
		}
	}
}
