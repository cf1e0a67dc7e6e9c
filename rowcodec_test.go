package viborm

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

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
	codecUsers = Model[codecUser]("u", s.BigInt("id").ID(), s.String("email"), s.String("name").Nullable(),
		s.Float("score"), s.Boolean("active"), s.DateTime("at"), s.JSON("meta").Nullable(), s.Bytes("avatar").Nullable(),
		s.Decimal("price"), s.Int("small"))
	codecRows = Model[Row]("r", s.BigInt("id").ID(), s.String("email"), s.DateTime("at").Nullable())
)

func TestDecodeRowsRoundTrip(t *testing.T) {
	md := codecUsers.meta()
	if md.err != nil {
		t.Fatal(md.err)
	}
	name := "Zoë \"q\" <&> \u2028 🚀"
	in := []codecUser{
		{ID: -9007199254740993, Email: "a\\b\n\t\x01", Name: &name, Score: 1e-7, Active: true,
			At: time.Date(1999, 12, 31, 23, 59, 59, 123456789, time.UTC), Meta: json.RawMessage(`{"k":[1,null]}`),
			Avatar: []byte{0, 255, 10}, Price: "12.50", Small: 1<<31 - 1},
		{ID: 2, At: time.Unix(0, 0).UTC()},
	}
	b, err := payload{kind: pRows, md: md, q: &query{sel: md.fields}, v: in}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRows[codecUser](md, md.fields, b)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decodeRowsReference[codecUser](md, md.fields, b)
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
			md := codecRows.meta()
			got, err := decodeRows[Row](md, md.fields, data)
			want, werr := decodeRowsReference[Row](md, md.fields, data)
			compare(t, md, data, got, err, want, werr)
			return
		}
		md := codecUsers.meta()
		got, err := decodeRows[codecUser](md, md.fields, data)
		want, werr := decodeRowsReference[codecUser](md, md.fields, data)
		compare(t, md, data, got, err, want, werr)
	})
}

// compare fails unless the fast and the reference decoder both rejected
// data, or both accepted it with the same rows (compared in their written
// form, so that NaN equals NaN). encoding/json replaces invalid UTF-8 where
// the fast decoder keeps the bytes; such input is compared on acceptance
// only (the client never writes it).
func compare[T any](t *testing.T, md *model, data []byte, got []T, err error, want []T, werr error) {
	t.Helper()
	if (err == nil) != (werr == nil) {
		t.Fatalf("%q: fast decoder error %v, reference error %v", data, err, werr)
	}
	if err != nil || !utf8.Valid(data) {
		return
	}
	g, err1 := payload{kind: pRows, md: md, q: &query{sel: md.fields}, v: got}.MarshalJSON()
	w, err2 := payload{kind: pRows, md: md, q: &query{sel: md.fields}, v: want}.MarshalJSON()
	if err1 != nil || err2 != nil || !bytes.Equal(g, w) {
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
		md := codecUsers.meta()
		in := []codecUser{{ID: id, Email: email, Name: &name, Score: score, At: time.Unix(id%1e10, 0).UTC(), Avatar: avatar, Price: "1"}}
		b, err := payload{kind: pRows, md: md, q: &query{sel: md.fields}, v: in}.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeRows[codecUser](md, md.fields, b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		want, err := decodeRowsReference[codecUser](md, md.fields, b)
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
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTC([]byte(s))
		if !ok {
			return
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !got.Equal(want) {
			t.Fatalf("parseUTC(%q) = %v; time.Parse = %v, %v", s, got, want, err)
		}
	})
}
