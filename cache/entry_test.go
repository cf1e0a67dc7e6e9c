package cache_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
)

func TestMarshalEntryIsVibORMsJSON(t *testing.T) {
	e := cache.NewEntry(map[string]any{"id": 1}, time.UnixMilli(1700000000123), 5*time.Minute)
	b, err := cache.MarshalEntry(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"value":{"id":1},"createdAt":1700000000123,"ttl":300000}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	got, err := cache.UnmarshalEntry(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(e.CreatedAt) || got.TTL != e.TTL || string(got.Value.(json.RawMessage)) != `{"id":1}` {
		t.Fatalf("round trip: %+v", got)
	}
}

func TestUnmarshalEntryAcceptsTypeScriptForms(t *testing.T) {
	for _, in := range []string{
		`{"value":null,"createdAt":1,"ttl":1}`,
		` { "ttl" : 60000 , "createdAt" : 1.7e12 , "value" : [1,"a",{"b":true}] } `,
		`{"value":"x\"}","createdAt":0,"ttl":1.0}`,
	} {
		if _, err := cache.UnmarshalEntry([]byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func TestUnmarshalEntryRejectsCorruptData(t *testing.T) {
	for _, in := range []string{
		``, `null`, `[]`, `{}`, `garbage`,
		`{"value":1,"createdAt":1}`,
		`{"value":1,"ttl":1}`,
		`{"createdAt":1,"ttl":1}`,
		`{"value":1,"createdAt":1,"ttl":0}`,
		`{"value":1,"createdAt":1,"ttl":-5}`,
		`{"value":1,"createdAt":1.5,"ttl":1}`,
		`{"value":1,"createdAt":"1","ttl":1}`,
		`{"value":1,"createdAt":1,"ttl":1,"extra":2}`,
		`{"value":1,"value":2,"createdAt":1,"ttl":1}`,
		`{"value":{"a":1,"createdAt":1,"ttl":1}`,
		`{"value":1,"createdAt":1,"ttl":1}x`,
		`{"value":"unterminated,"createdAt":1,"ttl":1}`,
		`{"value":1,"createdAt":+1,"ttl":1}`,
		`{"value":1,"createdAt":01,"ttl":1}`,
		`{"value":1,"createdAt":99999999999999999999999,"ttl":1}`,
	} {
		_, err := cache.UnmarshalEntry([]byte(in))
		var ee *cache.EntryError
		if !errors.As(err, &ee) || !errors.Is(err, cache.ErrCorruptEntry) {
			t.Errorf("%q: got %v, want an *EntryError", in, err)
		}
	}
}

func FuzzUnmarshalEntry(f *testing.F) {
	f.Add([]byte(`{"value":{"id":1},"createdAt":1700000000123,"ttl":300000}`))
	f.Add([]byte(`{"ttl":1,"value":[1,{"a":"b\\\""}],"createdAt":-1}`))
	f.Add([]byte(`{"value":`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := cache.UnmarshalEntry(data)
		if err != nil {
			if !errors.Is(err, cache.ErrCorruptEntry) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if e.TTL <= 0 {
			t.Fatalf("accepted a non-positive TTL %v", e.TTL)
		}
		// A decoded entry marshals back into an equal entry.
		b, err := cache.MarshalEntry(e, nil)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := cache.UnmarshalEntry(b)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if !e2.CreatedAt.Equal(e.CreatedAt) || e2.TTL != e.TTL || string(e2.Value.(json.RawMessage)) != string(e.Value.(json.RawMessage)) {
			t.Fatalf("round trip changed the entry: %+v vs %+v", e, e2)
		}
		// The value, when valid JSON, is exactly what a JSON decoder sees.
		var whole struct{ Value json.RawMessage }
		if json.Unmarshal(data, &whole) == nil && json.Valid(e.Value.(json.RawMessage)) {
			var a, b any
			if json.Unmarshal(whole.Value, &a) == nil && json.Unmarshal(e.Value.(json.RawMessage), &b) == nil {
				ja, _ := json.Marshal(a)
				jb, _ := json.Marshal(b)
				if string(ja) != string(jb) {
					t.Fatalf("value %s, encoding/json sees %s", jb, ja)
				}
			}
		}
	})
}

func FuzzParseTTL(f *testing.F) {
	for _, s := range []string{"5 minutes", "2.5h", "1 week", "30s", " 10 Minutes ", "0.0001 ms", "1e3 ms", "-1 hour", "", "99999999999999999999 months"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := cache.ParseTTL(s)
		if err != nil {
			var te *cache.TTLError
			if !errors.As(err, &te) || te.Input != s || !errors.Is(err, cache.ErrInvalidTTL) {
				t.Fatalf("ParseTTL(%q): untyped error %v", s, err)
			}
			return
		}
		if d < time.Millisecond || d%time.Millisecond != 0 {
			t.Fatalf("ParseTTL(%q) = %v: not whole milliseconds ≥ 1ms", s, d)
		}
	})
}

func FuzzKeyArgs(f *testing.F) {
	f.Add([]byte(`{"where":{"active":true,"age":{"gte":18}},"take":10}`), false)
	f.Add([]byte(`[1,"1",null,1.5,{"a":[]}]`), true)
	f.Fuzz(func(t *testing.T, data []byte, compat bool) {
		var args any
		if json.Unmarshal(data, &args) != nil {
			return
		}
		opts := &cache.KeyOptions{Compat: compat}
		k1, err := cache.Key("m", "op", args, opts)
		if err != nil {
			if !errors.Is(err, cache.ErrInvalidKey) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// Deterministic, and the same arguments as raw JSON hash alike.
		var again any
		json.Unmarshal(data, &again)
		if k2, _ := cache.Key("m", "op", again, opts); k2 != k1 {
			t.Fatalf("non-deterministic: %s vs %s", k1, k2)
		}
		// A top-level nil means "no arguments" (TypeScript's undefined); the
		// raw JSON null is an explicit null, as in TypeScript.
		if compat && args != nil {
			if k3, err := cache.Key("m", "op", json.RawMessage(data), opts); err != nil || k3 != k1 {
				t.Fatalf("raw JSON hashed differently: %s vs %s (%v)", k1, k3, err)
			}
		}
	})
}

// FuzzStringKey checks that StringKey is Key of the same bytes as a string,
// for every version and both hashes.
func FuzzStringKey(f *testing.F) {
	f.Add([]byte("w\x01\x02id"), "", false)
	f.Add(make([]byte, 300), "2", false) // longer than StringKey's stack buffer
	f.Add([]byte("x"), "1.0", true)
	f.Fuzz(func(t *testing.T, arg []byte, version string, compat bool) {
		opts := &cache.KeyOptions{Version: version, Compat: compat}
		want, werr := cache.Key("user", "findMany", string(arg), opts)
		got, gerr := cache.StringKey("user", "findMany", arg, opts)
		if got != want || (werr == nil) != (gerr == nil) {
			t.Fatalf("StringKey = %q, %v; Key = %q, %v", got, gerr, want, werr)
		}
		if !compat && version == "" {
			if k, _ := cache.StringKey("user", "findMany", arg, nil); k != want {
				t.Fatalf("nil options: %q, want %q", k, want)
			}
		}
	})
}
