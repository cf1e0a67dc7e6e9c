package rowcodec_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/s"
)

type codecUser struct {
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
}

var (
	userCols = []refColumn{{"id", s.KindBigInt}, {"email", s.KindString}, {"name", s.KindString},
		{"score", s.KindFloat}, {"active", s.KindBoolean}, {"at", s.KindDateTime}, {"meta", s.KindJSON},
		{"avatar", s.KindBytes}, {"price", s.KindDecimal}, {"small", s.KindInt}}
	rowCols  = []refColumn{{"id", s.KindBigInt}, {"email", s.KindString}, {"at", s.KindDateTime}}
	userPlan = mustPlan(reflect.TypeFor[codecUser](), userCols)
	rowPlan  = mustPlan(reflect.TypeFor[rowcodec.Row](), rowCols)
)

func mustPlan(t reflect.Type, cols []refColumn) *rowcodec.Plan {
	cs := make([]rowcodec.Column, len(cols))
	for i, c := range cols {
		cs[i] = rowcodec.Column{Name: c.name, Kind: c.kind, Field: i}
	}
	p, err := rowcodec.NewPlan(t, cs)
	if err != nil {
		panic(err)
	}
	return p
}

func TestDecodeRowsRoundTrip(t *testing.T) {
	name := "Zoë \"q\" <&> \u2028 🚀"
	in := []codecUser{
		{ID: -9007199254740993, Email: "a\\b\n\t\x01", Name: &name, Score: 1e-7, Active: true,
			At: time.Date(1999, 12, 31, 23, 59, 59, 123456789, time.UTC), Meta: json.RawMessage(`{"k":[1,null]}`),
			Avatar: []byte{0, 255, 10}, Price: "12.50", Small: 1<<31 - 1},
		{ID: 2, At: time.Unix(0, 0).UTC()},
	}
	b := rowcodec.AppendRows(nil, userPlan, userPlan.All(), in)
	got, err := rowcodec.DecodeRows[codecUser](userPlan, userPlan.All(), b)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decodeRowsReference[codecUser](userPlan, userCols, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(got, in) {
		t.Fatalf("decoded\n%+v\nreference\n%+v\nwritten\n%+v", got, want, in)
	}
}

// FuzzDecodeRows checks the fast decoder of cached rows against the
// reference decoder: both accept (with the same rows) or both reject, and
// neither panics.
func FuzzDecodeRows(f *testing.F) {
	f.Add([]byte(`{"c":["id","email","at"],"r":[["i1","sa\u00e9\"",null],["i-2","s","t2024-01-02T03:04:05.123Z"]]}`), true)
	f.Add([]byte(`{"c":["id","email","name","score","active","at","meta","avatar","price","small"],"r":[["i1","s\ud83d\ude80",null,"f1.5",true,"t1999-12-31T23:59:59.123456789Z","j{}","bAP8K","s1.0","i7"]]}`), false)
	f.Add([]byte(`{"c":["id","email","name","score","active","at","meta","avatar","price","small"],"r":[["i1","s",null,"f1",false,"t1999-12-31T23:59:59Z",null,null,"s1","i-1"]]}`), false)
	f.Add([]byte(`{"c":["id","email","name","score","active","at","meta","avatar","price","small"],"r":[["i1","s",null,"f1",false,"t1999-12-31T23:59:59Z",null,null,"s1","i4294967296"]]}`), false)
	f.Add([]byte(` { "c" : [ "id" , "email" , "at" ] , "r" : [ ] } `), true)
	f.Add([]byte(`{"c":["id","email"],"r":[["i1","sa"]]}`), true)
	f.Add([]byte(`{"r":[],"c":["id","email","at"]}`), true)
	f.Add([]byte(`{"c":["id","email","at"],"r":null}`), true)
	f.Add([]byte(`[{"id":1,"email":"a"}]`), true)
	f.Fuzz(func(t *testing.T, data []byte, rows bool) {
		if rows {
			got, err := rowcodec.DecodeRows[rowcodec.Row](rowPlan, rowPlan.All(), data)
			want, werr := decodeRowsReference[rowcodec.Row](rowPlan, rowCols, data)
			compare(t, rowPlan, data, got, err, want, werr)
			return
		}
		got, err := rowcodec.DecodeRows[codecUser](userPlan, userPlan.All(), data)
		want, werr := decodeRowsReference[codecUser](userPlan, userCols, data)
		compare(t, userPlan, data, got, err, want, werr)
	})
}

// compare fails unless the fast and the reference decoder both rejected
// data, or both accepted it with the same rows (compared in their written
// form, so that NaN equals NaN). encoding/json replaces invalid UTF-8 where
// the fast decoder keeps the bytes; such input is compared on acceptance
// only (the client never writes it).
func compare[T any](t *testing.T, p *rowcodec.Plan, data []byte, got []T, err error, want []T, werr error) {
	t.Helper()
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: fast decoder error %v, reference error %v", data, err, werr)
	}
	if err != nil || !utf8.Valid(data) {
		return
	}
	g := rowcodec.AppendRows(nil, p, p.All(), got)
	w := rowcodec.AppendRows(nil, p, p.All(), want)
	if !bytes.Equal(g, w) {
		t.Fatalf("%s:\nfast      %+v\nreference %+v", data, got, want)
	}
}

// FuzzRowsRoundTrip writes rows made of fuzzed values and reads them back.
func FuzzRowsRoundTrip(f *testing.F) {
	f.Add("a@b", "Zoë \"q\" \x00", int64(-1), 1.5, []byte{0, 1})
	f.Fuzz(func(t *testing.T, email, name string, id int64, score float64, avatar []byte) {
		if score != score || score > 1e308 || score < -1e308 {
			return
		}
		in := []codecUser{{ID: id, Email: email, Name: &name, Score: score, At: time.Unix(id%1e10, 0).UTC(), Avatar: avatar, Price: "1"}}
		b := rowcodec.AppendRows(nil, userPlan, userPlan.All(), in)
		got, err := rowcodec.DecodeRows[codecUser](userPlan, userPlan.All(), b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		want, err := decodeRowsReference[codecUser](userPlan, userCols, b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\nfast      %+v\nreference %+v", b, got, want)
		}
	})
}

func FuzzParseUTC(f *testing.F) {
	f.Add("1999-12-31T23:59:59.123456789Z")
	f.Add("2024-02-30T00:00:00Z")
	f.Add("2024-01-02T03:04:05.1Z")
	f.Add("0000-02-29T00:00:00Z")
	f.Add("2100-02-29T00:00:00Z")
	f.Add("2000-02-29T23:59:59.999999999Z")
	f.Add("1969-12-31T23:59:59.5Z")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := rowcodec.ParseUTC([]byte(s))
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !got.Equal(want) || got != want.UTC() {
			t.Fatalf("ParseUTC(%q) = %v; time.Parse = %v, %v", s, got, want, err)
		}
	})
}
