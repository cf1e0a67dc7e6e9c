package rowcodec_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/s"
)

type compactUser struct {
	ID     int64
	Email  string
	Name   *string
	Score  float64
	Active bool
	At     time.Time
	Meta   json.RawMessage
	Avatar []byte
	Price  string
	Small  uint32
	Ratio  float32
	Born   *time.Time
}

var (
	compactCols = []rowcodec.Column{{Name: "id", Kind: s.KindBigInt}, {Name: "email", Kind: s.KindString},
		{Name: "name", Kind: s.KindString}, {Name: "score", Kind: s.KindFloat}, {Name: "active", Kind: s.KindBoolean},
		{Name: "at", Kind: s.KindDateTime}, {Name: "meta", Kind: s.KindJSON}, {Name: "avatar", Kind: s.KindBytes},
		{Name: "price", Kind: s.KindDecimal}, {Name: "small", Kind: s.KindInt}, {Name: "ratio", Kind: s.KindFloat},
		{Name: "born", Kind: s.KindDateTime}}
	compactPlan = func() *rowcodec.Plan {
		cs := append([]rowcodec.Column(nil), compactCols...)
		for i := range cs {
			cs[i].Field = i
		}
		p, err := rowcodec.NewPlan(reflect.TypeFor[compactUser](), cs)
		if err != nil {
			panic(err)
		}
		return p
	}()
)

func compactRows(n int) []compactUser {
	out := make([]compactUser, n)
	for i := range out {
		name := fmt.Sprintf("User %d", i)
		born := time.Date(1990, 1, 1+i%28, 0, 0, 0, 0, time.UTC)
		at := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
		out[i] = compactUser{ID: int64(i + 1), Email: fmt.Sprintf("user%03d@example.com", i), Name: &name, Score: float64(i) / 3,
			Active: i%2 == 0, At: at, Meta: json.RawMessage(`{"k":1}`), Avatar: []byte{1, 2, byte(i)}, Price: "12.50",
			Small: uint32(i), Ratio: 0.5, Born: &born}
	}
	return out
}

func encodeCompact(t testing.TB, rows []compactUser) []byte {
	t.Helper()
	b, ok := rowcodec.AppendRowsCompact(nil, compactPlan, compactPlan.All(), rows)
	if !ok {
		t.Fatal("no compact form for a struct plan")
	}
	return b
}

func TestCompactRowsRoundTripAndMatchTheJSONForm(t *testing.T) {
	name := "Zoë \"q\" <&> \u2028 🚀 \\ \x01"
	in := append(compactRows(3), compactUser{ID: math.MinInt64, Email: "", Name: &name, Score: -1e-300, Small: math.MaxUint32,
		At: time.Unix(-62135596800, 999999999).UTC(), Meta: json.RawMessage(`[]`), Avatar: []byte{}, Ratio: -math.MaxFloat32},
		compactUser{}) // NULLs and zero values
	b := encodeCompact(t, in)
	if !json.Valid(b) || !rowcodec.IsCompact(b) {
		t.Fatalf("the compact form %s is not a JSON string", b)
	}
	var text string
	if err := json.Unmarshal(b, &text); err != nil || !strings.HasPrefix(text, "vbr1:") {
		t.Fatalf("the compact form %s reads as %q, %v", b, text, err)
	}
	got, err := rowcodec.DecodeRowsCompact[compactUser](compactPlan, compactPlan.All(), b)
	if err != nil {
		t.Fatal(err)
	}
	// The JSON form writes an empty []byte as "" and reads it back as an
	// empty slice; so does the compact form.
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("decoded\n%+v\nwritten\n%+v", got, in)
	}
	fromJSON, err := rowcodec.DecodeRows[compactUser](compactPlan, compactPlan.All(), rowcodec.AppendRows(nil, compactPlan, compactPlan.All(), in))
	if err != nil || !reflect.DeepEqual(got, fromJSON) {
		t.Fatalf("compact form\n%+v\nJSON form\n%+v, %v", got, fromJSON, err)
	}
	// The decoded rows are the caller's: writing into them leaves the
	// cached text alone, and the next decode is the same.
	before := bytes.Clone(b)
	for _, r := range got {
		for i := range r.Avatar {
			r.Avatar[i] = 'X'
		}
		for i := range r.Meta {
			r.Meta[i] = 'X'
		}
	}
	if !bytes.Equal(b, before) {
		t.Fatal("writing into decoded rows changed the cached form")
	}
}

func TestCompactRowsSelection(t *testing.T) {
	in := compactRows(2)
	sel := []int{0, 1, 5}
	b, _ := rowcodec.AppendRowsCompact(nil, compactPlan, sel, in)
	got, err := rowcodec.DecodeRowsCompact[compactUser](compactPlan, sel, b)
	if err != nil || len(got) != 2 || got[1].Email != in[1].Email || got[1].Name != nil || !got[1].At.Equal(in[1].At) {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, other := range [][]int{{0, 1}, {0, 1, 5, 6}, {1, 0, 5}, {0, 2, 5}} {
		if _, err := rowcodec.DecodeRowsCompact[compactUser](compactPlan, other, b); !errors.Is(err, rowcodec.ErrSelection) {
			t.Errorf("selection %v read rows of %v: %v", other, sel, err)
		}
	}
}

// compactOf wraps a binary body in the compact form's string.
func compactOf(body []byte) []byte {
	return []byte(`"vbr1:` + base64.StdEncoding.EncodeToString(body) + `"`)
}

func TestCompactRowsRejectMalformed(t *testing.T) {
	good := encodeCompact(t, compactRows(2))
	text := good[len(`"vbr1:`) : len(good)-1]
	body, err := base64.StdEncoding.DecodeString(string(text))
	if err != nil {
		t.Fatal(err)
	}
	hdr := binary.AppendUvarint(nil, 1)
	hdr = append(binary.AppendUvarint(hdr, 2), "id"...)
	one := func(vals ...byte) []byte {
		return compactOf(append(binary.AppendUvarint(bytes.Clone(hdr), 1), vals...))
	}
	sel := []int{0}
	cases := map[string]struct {
		raw []byte
		sel []int
	}{
		"truncated":          {compactOf(body[:len(body)-1]), nil},
		"trailing":           {compactOf(append(bytes.Clone(body), 0)), nil},
		"newline in base64":  {[]byte(string(good[:20]) + "\n" + string(good[20:])), nil},
		"escaped slash":      {[]byte(strings.Replace(string(good), "/", `\/`, 1)), nil},
		"not base64":         {[]byte(`"vbr1:!!!!"`), nil},
		"unterminated":       {good[:len(good)-1], nil},
		"other version":      {[]byte(`"vbr2:` + string(good[6:])), nil},
		"too many rows":      {compactOf(append(bytes.Clone(hdr), 0xff, 0xff, 0xff, 0xff, 0x0f, 'i', 2)), sel},
		"string for an int":  {one('s', 1, 'x'), sel},
		"bool for an int":    {one('T'), sel},
		"unknown tag":        {one('z'), sel},
		"varint overflow":    {one('i', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), sel},
		"short float":        {compactOf(append(binary.AppendUvarint(append(binary.AppendUvarint(nil, 1), append(binary.AppendUvarint(nil, 5), "score"...)...), 1), 'f', 1, 2)), []int{3}},
		"nanoseconds >= 1e9": {compactOf(append(binary.AppendUvarint(append(binary.AppendUvarint(nil, 1), append(binary.AppendUvarint(nil, 2), "at"...)...), 1), binary.AppendUvarint([]byte{'t', 0}, 1e9)...)), []int{5}},
		"uint32 overflow":    {compactOf(append(binary.AppendUvarint(append(binary.AppendUvarint(nil, 1), append(binary.AppendUvarint(nil, 5), "small"...)...), 1), binary.AppendVarint([]byte{'i'}, 1<<32)...)), []int{9}},
		"negative uint32":    {compactOf(append(binary.AppendUvarint(append(binary.AppendUvarint(nil, 1), append(binary.AppendUvarint(nil, 5), "small"...)...), 1), binary.AppendVarint([]byte{'i'}, -1)...)), []int{9}},
		"JSON form":          {rowcodec.AppendRows(nil, compactPlan, compactPlan.All(), compactRows(1)), nil},
	}
	for name, c := range cases {
		if c.sel == nil {
			c.sel = compactPlan.All()
		}
		if got, err := rowcodec.DecodeRowsCompact[compactUser](compactPlan, c.sel, c.raw); err == nil {
			t.Errorf("%s: %s decoded to %+v", name, c.raw, got)
		}
	}
	if _, err := rowcodec.DecodeRowsCompact[compactUser](compactPlan, sel, one('i', 4)); err != nil {
		t.Fatalf("the well-formed case of the table: %v", err)
	}
}

// FuzzCompactRowsRoundTrip writes rows of fuzzed values in the compact form
// and reads them back exactly; where the JSON form is exact too (valid
// UTF-8, no NaN), both forms read the same rows.
func FuzzCompactRowsRoundTrip(f *testing.F) {
	f.Add("a@b", "Zoë \"q\" \x00", int64(-1), 1.5, []byte{0, 1}, int64(1700000000), uint32(7), true)
	f.Add("", "\xff", int64(math.MaxInt64), math.NaN(), []byte(nil), int64(-62135596800), uint32(0), false)
	f.Fuzz(func(t *testing.T, email, name string, id int64, score float64, avatar []byte, sec int64, small uint32, active bool) {
		at := time.Unix(sec%(1<<40), id&(1<<29)).UTC()
		in := []compactUser{{ID: id, Email: email, Name: &name, Score: score, Active: active, At: at, Avatar: avatar, Price: "1",
			Small: small, Meta: json.RawMessage(`{"a":1}`)}, {ID: ^id}}
		b := encodeCompact(t, in)
		got, err := rowcodec.DecodeRowsCompact[compactUser](compactPlan, compactPlan.All(), b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !bytes.Equal(encodeCompact(t, got), b) {
			t.Fatalf("rows %+v read back as %+v", in, got)
		}
		if score != score || !utf8.ValidString(email) || !utf8.ValidString(name) || at.Year() < 0 || at.Year() > 9999 {
			return
		}
		if avatar == nil {
			in[0].Avatar = nil
		}
		fromJSON, err := rowcodec.DecodeRows[compactUser](compactPlan, compactPlan.All(), rowcodec.AppendRows(nil, compactPlan, compactPlan.All(), in))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, fromJSON) {
			t.Fatalf("compact form\n%+v\nJSON form\n%+v", got, fromJSON)
		}
	})
}

// FuzzDecodeRowsCompact feeds the compact decoder arbitrary bodies (and
// arbitrary text): it never panics, and rows it accepts write back to a
// body it reads as the same rows.
func FuzzDecodeRowsCompact(f *testing.F) {
	good, _ := rowcodec.AppendRowsCompact(nil, compactPlan, compactPlan.All(), compactRows(2))
	body, _ := base64.StdEncoding.DecodeString(string(good[6 : len(good)-1]))
	f.Add(body, []byte(nil))
	f.Add([]byte{}, good)
	f.Add([]byte{1, 2, 'i', 'd', 1, 'i', 2}, []byte(`"vbr1:AQJpZAFpAg=="`))
	f.Fuzz(func(t *testing.T, body, raw []byte) {
		for _, data := range [][]byte{compactOf(body), raw} {
			for _, sel := range [][]int{compactPlan.All(), {0}, {1, 2, 3}} {
				got, err := rowcodec.DecodeRowsCompact[compactUser](compactPlan, sel, data)
				if err != nil {
					continue
				}
				again, _ := rowcodec.AppendRowsCompact(nil, compactPlan, sel, got)
				back, err := rowcodec.DecodeRowsCompact[compactUser](compactPlan, sel, again)
				if err != nil || !bytes.Equal(func() []byte { b, _ := rowcodec.AppendRowsCompact(nil, compactPlan, sel, back); return b }(), again) {
					t.Fatalf("%q read as %+v, written back as %s, read again as %+v, %v", data, got, again, back, err)
				}
			}
		}
	})
}

// BenchmarkDecodeRowsForms decodes 100 cached rows of a 12-field model in
// the JSON form and in the compact form.
func BenchmarkDecodeRowsForms(b *testing.B) {
	rows := compactRows(100)
	forms := map[string][]byte{"json": rowcodec.AppendRows(nil, compactPlan, compactPlan.All(), rows), "compact": encodeCompact(b, rows)}
	for _, name := range []string{"json", "compact"} {
		raw := forms[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if name == "json" {
					_, err = rowcodec.DecodeRows[compactUser](compactPlan, compactPlan.All(), raw)
				} else {
					_, err = rowcodec.DecodeRowsCompact[compactUser](compactPlan, compactPlan.All(), raw)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
