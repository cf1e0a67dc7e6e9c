package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sameParse fails t unless UnmarshalEntry and the general parser give the
// same answer on data, and unless an entry the fast path accepts is the
// general parser's, its value aliasing the same bytes.
func sameParse(t *testing.T, data []byte) {
	t.Helper()
	want, werr := parseEntry(data)
	got, gerr := UnmarshalEntry(data)
	if fmt.Sprint(gerr) != fmt.Sprint(werr) || !sameEntry(got, want) {
		t.Fatalf("UnmarshalEntry(%q) = %+v, %v; the general parser gives %+v, %v", data, got, gerr, want, werr)
	}
	fast, ok := fastEntry(data)
	if !ok {
		return
	}
	if werr != nil {
		t.Fatalf("fast path accepted %q, which the general parser rejects: %v", data, werr)
	}
	if !sameEntry(fast, want) || &fast.Value.(json.RawMessage)[0] != &want.Value.(json.RawMessage)[0] {
		t.Fatalf("fast path read %q as %+v, the general parser as %+v", data, fast, want)
	}
}

func sameEntry(a, b Entry) bool {
	ra, _ := a.Value.(json.RawMessage)
	rb, _ := b.Value.(json.RawMessage)
	return bytes.Equal(ra, rb) && (ra == nil) == (rb == nil) && a.CreatedAt.Equal(b.CreatedAt) && a.TTL == b.TTL
}

// nesting is an upper bound of v's depth of nesting.
func nesting(v []byte) int { return bytes.Count(v, []byte("[")) + bytes.Count(v, []byte("{")) }

func envelope(value []byte, at, ttl string) []byte {
	return []byte(`{"value":` + string(value) + `,"createdAt":` + at + `,"ttl":` + ttl + `}`)
}

func TestUnmarshalEntryFastPathReadsMarshalEntryForm(t *testing.T) {
	values := []any{
		nil, true, false, 0, -1.5e-7, "", "a\"b\\c\u2028\x01", []any{}, map[string]any{},
		[]any{1, "x", nil, []any{[]any{}}, map[string]any{"k": []any{true}}},
		map[string]any{"c": []string{"id", "name"}, "r": [][]any{{"i1", "sAda"}, {"i2", nil}}},
		json.RawMessage(` { "a" : [ 1 , 2 ] , "b" : { } } `), // inner white space, trimmed around
		json.RawMessage(`"\\"`), json.RawMessage(`"\""`), json.RawMessage(`1e+5`),
	}
	for _, v := range values {
		for _, at := range []time.Time{time.UnixMilli(1700000000123), time.UnixMilli(0), time.UnixMilli(-5)} {
			raw, ok := v.(json.RawMessage)
			if ok {
				v = json.RawMessage(bytes.TrimSpace(raw))
			}
			data, err := MarshalEntry(NewEntry(v, at, 90*time.Second), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := fastEntry(data); !ok {
				t.Errorf("the fast path does not take %s", data)
			}
			sameParse(t, data)
		}
	}
}

func TestUnmarshalEntryFastPathLeavesTheRestToTheParser(t *testing.T) {
	for _, data := range []string{
		`{"value":1,"ttl":5,"createdAt":1}`,                         // reordered
		`{"value":1, "createdAt":1,"ttl":5}`,                        // white space
		`{"value": 1,"createdAt":1,"ttl":5}`,                        // white space before the value
		`{"value":1 ,"createdAt":1,"ttl":5}`,                        // and after it
		`{"value":1,"createdAt":1,"ttl":5} `,                        // trailing white space
		`{"value":1,"createdAt":1.0,"ttl":5}`,                       // a fraction
		`{"value":1,"createdAt":1,"ttl":5e3}`,                       // an exponent
		`{"value":1,"createdAt":01,"ttl":5}`,                        // a leading zero: corrupt
		`{"value":1,"createdAt":1,"ttl":0}`,                         // corrupt: ttl not positive
		`{"value":1,"createdAt":1,"ttl":-5}`,                        // corrupt: ttl not positive
		`{"value":1,"createdAt":1,"ttl":9223372036855}`,             // corrupt: ttl overflows
		`{"value":1,"createdAt":1234567890123456789,"ttl":5}`,       // 19 digits
		`{"value":,"createdAt":1,"ttl":5}`,                          // corrupt: no value
		`{"value":[1,],"createdAt":1,"ttl":5}`,                      // corrupt value
		`{"value":{"a"},"createdAt":1,"ttl":5}`,                     // corrupt value
		`{"value":"a,"createdAt":1,"ttl":5}`,                        // corrupt: unterminated
		`{"value":"\","createdAt":1,"ttl":5}`,                       // corrupt: unterminated
		`{"value":"a","createdAt":1,"x":1,"createdAt":1,"ttl":5}`,   // corrupt: unknown member
		`{"value":1,"createdAt":1,"value":1,"createdAt":1,"ttl":5}`, // corrupt: duplicates
		`{"value":1,"createdAt":--1,"ttl":5}`,                       // corrupt
		`{"value":1,"createdAt":1,"ttl":5}}`,                        // corrupt
		`{"value":tru,"createdAt":1,"ttl":5}`,                       // corrupt
		`{"value":` + strings.Repeat("[", fastMaxDepth+2) + strings.Repeat("]", fastMaxDepth+2) + `,"createdAt":1,"ttl":5}`,   // deep
		`{"value":` + strings.Repeat("[", maxEntryDepth+2) + strings.Repeat("]", maxEntryDepth+2) + `,"createdAt":1,"ttl":5}`, // too deep
	} {
		if e, ok := fastEntry([]byte(data)); ok {
			t.Errorf("the fast path took %.80s as %+v", data, e)
		}
		sameParse(t, []byte(data))
	}
}

// FuzzUnmarshalEntryFastPath checks the fast path against the general
// parser on entries in MarshalEntry's layout around arbitrary values and
// integers, and on arbitrary bytes: the same answer always; where the fast
// path answers, the general parser's entry; and every value it should
// take (valid JSON without white space around it, not too deep) taken.
func FuzzUnmarshalEntryFastPath(f *testing.F) {
	for _, s := range []string{`1`, `"x"`, `{"c":["id"],"r":[["i1"]]}`, `[1,[2,{"a":null}]]`, `{ }`, `[1,]`, `"\"`, `tru`, `01`, `{"a" 1}`} {
		f.Add([]byte(s), "1700000000000", "60000", []byte(nil))
	}
	f.Add([]byte(`1`), "-0", "1", []byte(`{"value":1,"ttl":2,"createdAt":3}`))
	f.Add([]byte(`null`), "1", "9223372036854", []byte(`{"value":null,"createdAt":1,"ttl":9223372036855}`))
	f.Fuzz(func(t *testing.T, value []byte, at, ttl string, raw []byte) {
		sameParse(t, raw)
		data := envelope(value, at, ttl)
		sameParse(t, data)
		_, okAt := strconv.ParseInt(at, 10, 64)
		n, okTTL := strconv.ParseInt(ttl, 10, 64)
		canonical := func(s string) bool {
			d := strings.TrimPrefix(s, "-")
			return len(d) > 0 && len(d) <= 18 && (d == "0" || d[0] != '0') && strings.Trim(d, "0123456789") == ""
		}
		trimmed := len(bytes.TrimSpace(value)) == len(value)
		if json.Valid(value) && trimmed && nesting(value) <= fastMaxDepth && okAt == nil && okTTL == nil &&
			canonical(at) && canonical(ttl) && n > 0 && n <= maxTTLMillis {
			if _, ok := fastEntry(data); !ok {
				t.Fatalf("the fast path does not take %q", data)
			}
		}
	})
}

// TestFastValueMatchesSkipValue checks fastValue against the recursive
// scanner on values the general parser's layout cannot reach alone.
func TestFastValueMatchesSkipValue(t *testing.T) {
	for _, v := range []string{`[]`, `[ ]`, `{ }`, `[1 ,2]`, `[1, 2 ]`, `{"a" : 1 , "b":[ ] }`, `{"a":1,}`, `[,]`, `{"a":}`,
		`{1:2}`, `[1}`, `{"a":1]`, `--1e+-`, `"\u00zz"`, "\"\x1f\"", "\"\\\x01\"", `nul`, `falsey`, `[true,false,null]`} {
		p := entryParser{data: []byte(v)}
		skip := p.skipValue(0) && p.pos == len(v)
		if fast := fastValue([]byte(v)); fast && !skip {
			t.Errorf("fastValue(%s) = true, skipValue consumes it exactly = false", v)
		} else if !fast && skip {
			t.Errorf("fastValue(%s) = false, skipValue consumes it exactly = true", v)
		}
	}
}

// benchValue is a cached 100-row ORM result in its tagged JSON form.
func benchValue(rows int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"c":["id","email","name","age","score","balance","active","role","createdAt","updatedAt","meta","avatar","big","born"],"r":[`)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `["i%d","suser%03d@example.com","sUser %d","i%d","f%d.5","s%d.25",true,"smember","t2024-01-02T03:04:05.123456Z","t2024-01-02T03:04:05.123456Z","j{\"k\":%d,\"tags\":[\"a\",\"b\"]}","bAQID","i%d",null]`,
			i+1, i, i, 20+i%50, i, i*100, i, int64(i)<<40)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// BenchmarkUnmarshalEntry compares the general parser ("general", what
// UnmarshalEntry was) with UnmarshalEntry's fast path on a cached 100-row
// result, in JSON ("rows100") and as one string of the same length
// ("string").
func BenchmarkUnmarshalEntry(b *testing.B) {
	rows := benchValue(100)
	str := append(append([]byte{'"'}, bytes.Repeat([]byte("QUJD"), (len(rows)-2)/4)...), '"')
	for _, value := range []struct {
		name string
		v    []byte
	}{{"rows100", rows}, {"string", str}} {
		data := envelope(value.v, "1700000000123", "3600000")
		if _, ok := fastEntry(data); !ok {
			b.Fatal("the fast path does not take the benchmark's entry")
		}
		for _, tc := range []struct {
			name  string
			parse func([]byte) (Entry, error)
		}{{"general", parseEntry}, {"fast", UnmarshalEntry}} {
			b.Run(value.name+"/"+tc.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := tc.parse(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

type compactValue struct{ out string }

func (v compactValue) MarshalJSON() ([]byte, error)        { return []byte(`{"long":"form"}`), nil }
func (v compactValue) MarshalCompactJSON() ([]byte, error) { return []byte(v.out), nil }

func TestCompactJSONWritesTheCompactForm(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{{compactValue{`"c1:AAAA"`}, `"c1:AAAA"`}, {map[string]int{"a": 1}, `{"a":1}`}} {
		b, err := CompactJSON.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("CompactJSON.Marshal(%#v) = %s, %v; want %s", tc.v, b, err, tc.want)
		}
		if b, err := JSON.Marshal(tc.v); err != nil || (tc.want == `"c1:AAAA"` && string(b) != `{"long":"form"}`) {
			t.Errorf("JSON.Marshal(%#v) = %s, %v; want the long form", tc.v, b, err)
		}
	}
	if b, err := CompactJSON.Marshal(compactValue{`"unterminated`}); err == nil {
		t.Errorf("a compact form that is not JSON was written: %s", b)
	}
	var x map[string]int
	if err := CompactJSON.Unmarshal([]byte(`{"a":2}`), &x); err != nil || x["a"] != 2 {
		t.Errorf("CompactJSON.Unmarshal = %v, %v", x, err)
	}
}
