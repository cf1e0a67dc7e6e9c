package rowcodec_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/s"

	_ "modernc.org/sqlite"
)

type role string

// wideRow has a field of every layout the codec writes through offsets.
type wideRow struct {
	I8   int8
	I16  int16
	I32  int32
	U8   uint8
	U16  uint16
	U64  uint64
	F32  float32
	PI   *int64
	PT   *time.Time
	PB   *bool
	PF   *float64
	PS   *string
	Dec  float64 // a decimal bound to float64
	JS   string  // JSON bound to a string
	Role role
	U    uint
}

var (
	wideCols = []refColumn{{"i8", s.KindInt}, {"i16", s.KindInt}, {"i32", s.KindInt}, {"u8", s.KindInt},
		{"u16", s.KindInt}, {"u64", s.KindBigInt}, {"f32", s.KindFloat}, {"pi", s.KindBigInt}, {"pt", s.KindDateTime},
		{"pb", s.KindBoolean}, {"pf", s.KindFloat}, {"ps", s.KindString}, {"dec", s.KindDecimal}, {"js", s.KindJSON},
		{"role", s.KindEnum}, {"u", s.KindBigInt}}
	widePlan = mustPlan(reflect.TypeFor[wideRow](), wideCols)
)

// FuzzDecodeRowsWide is FuzzDecodeRows over fields of every integer and
// float width, pointers to each kind, a decimal in a float64, JSON in a
// string and a named string type: the fast decoder writes each through its
// offset, the reference through reflect; both must agree.
func FuzzDecodeRowsWide(f *testing.F) {
	f.Add([]byte(`{"c":["i8","i16","i32","u8","u16","u64","f32","pi","pt","pb","pf","ps","dec","js","role","u"],"r":[` +
		`["i-128","i32767","i-2147483648","i255","i65535","i9223372036854775807","f3.4e38","i-1","t2024-01-02T03:04:05Z",true,"f0.5","sé","s12.50","j{\"a\":1}","sadmin","i0"],` +
		`["i1","i1","i1","i1","i1","i1","f1",null,null,null,null,null,"s1","j[]","s","i1"]]}`))
	f.Add([]byte(`{"c":["i8","i16","i32","u8","u16","u64","f32","pi","pt","pb","pf","ps","dec","js","role","u"],"r":[` +
		`["i128","i1","i1","i1","i1","i1","f1",null,null,null,null,null,"s1","j1","s","i-1"]]}`))
	f.Add([]byte(`{"c":["i8","i16","i32","u8","u16","u64","f32","pi","pt","pb","pf","ps","dec","js","role","u"],"r":[` +
		`["i1","i1","i1","i-1","i1","i1","f1e39",null,null,null,null,null,"sx","j1","s","i1"]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := rowcodec.DecodeRows[wideRow](widePlan, widePlan.All(), data)
		want, werr := decodeRowsReference[wideRow](widePlan, wideCols, data)
		compare(t, widePlan, data, got, err, want, werr)
	})
}

// TestDecodedRowsShareNothingMutable guards the allocation of decoded
// values in chunks: each row's pointer fields point to values of their own,
// so writing through one row never changes another.
func TestDecodedRowsShareNothingMutable(t *testing.T) {
	one, two := int64(1), int64(2)
	a, b := "a", "b"
	in := []wideRow{{PI: &one, PS: &a, Role: "x"}, {PI: &two, PS: &b, Role: "y"}, {}}
	raw := rowcodec.AppendRows(nil, widePlan, widePlan.All(), in)
	got, err := rowcodec.DecodeRows[wideRow](widePlan, widePlan.All(), raw)
	if err != nil {
		t.Fatal(err)
	}
	*got[0].PI, *got[0].PS = 10, "changed"
	if *got[1].PI != 2 || *got[1].PS != "b" || got[2].PI != nil {
		t.Fatalf("a write through row 0 reached row 1: %+v", got)
	}
	if len(got) != 3 || got[0].Role != "x" || got[1].Role != "y" {
		t.Fatalf("decoded %+v", got)
	}
}

// TestCopyRowsSharesNothingMutable guards the defensive copy of a hit: a
// caller may write every field of the copy, through every pointer, into
// every byte slice and append to it, and the source does not change.
func TestCopyRowsSharesNothingMutable(t *testing.T) {
	name := "n"
	born := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	src := []benchUser{{ID: 1, Email: "e", Name: &name, Meta: json.RawMessage(`{}`), Avatar: []byte{1, 2}, Born: &born},
		{ID: 2, Avatar: []byte{3}}}
	before := rowcodec.AppendRows(nil, benchUserPlan, benchUserPlan.All(), src)
	cp := rowcodec.CopyRows(benchUserPlan, src)
	if !reflect.DeepEqual(cp, src) {
		t.Fatalf("copy %+v differs from %+v", cp, src)
	}
	*cp[0].Name = "changed"
	*cp[0].Born = time.Time{}
	cp[0].Meta[0] = '['
	cp[0].Avatar[0] = 9
	cp[0].Avatar = append(cp[0].Avatar, 7) // must not run into row 1's bytes
	cp[1].ID, cp[1].Email = 5, "x"
	if after := rowcodec.AppendRows(nil, benchUserPlan, benchUserPlan.All(), src); !bytes.Equal(before, after) {
		t.Fatalf("a write to the copy reached the source:\nbefore %s\nafter  %s", before, after)
	}
	if cp[1].Avatar[0] != 3 {
		t.Fatalf("an append to row 0's bytes overwrote row 1's: %v", cp[1].Avatar)
	}
}

// TestScanRows reads rows from SQLite into every layout, and refuses a
// number that its Go field cannot hold with a *RangeError.
func TestScanRows(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const cols = `-128 AS i8, 32767 AS i16, -2147483648 AS i32, 255 AS u8, 65535 AS u16, 9223372036854775807 AS u64,
		1.5 AS f32, -7 AS pi, '2024-01-02 03:04:05.000000000Z' AS pt, 1 AS pb, 0.25 AS pf, 'sé' AS ps, '12.50' AS dec,
		'{"a": 1}' AS js, 'admin' AS role, 3 AS u`
	rows, err := db.Query(`SELECT ` + cols + ` UNION ALL SELECT 0,0,0,0,0,0,0,NULL,NULL,NULL,NULL,NULL,'0','[]','',0`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := rowcodec.ScanRows[wideRow](widePlan, rows, widePlan.All())
	if err != nil {
		t.Fatal(err)
	}
	pi, pt, pb, pf, ps := int64(-7), time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), true, 0.25, "sé"
	want := []wideRow{{I8: -128, I16: 32767, I32: -2147483648, U8: 255, U16: 65535, U64: 1<<63 - 1, F32: 1.5, PI: &pi, PT: &pt,
		PB: &pb, PF: &pf, PS: &ps, Dec: 12.5, JS: `{"a":1}`, Role: "admin", U: 3}, {JS: "[]"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("scanned\n%+v\nwant\n%+v", got, want)
	}
	rows, err = db.Query(`SELECT 1 AS i8 UNION ALL SELECT 2 UNION ALL SELECT 3`)
	if err != nil {
		t.Fatal(err)
	}
	if three, err := rowcodec.ScanRows[wideRow](widePlan, rows, []int{0}); err != nil || len(three) != 3 || cap(three) != 3 {
		t.Errorf("%d rows, capacity %d, %v: an append to a result the cache shares would write into its memory", len(three), cap(three), err)
	}
	for _, bad := range []string{"128 AS i8", "-1 AS u8", "65536 AS u16", "-1 AS u"} {
		rows, err := db.Query(`SELECT ` + bad)
		if err != nil {
			t.Fatal(err)
		}
		col := bad[strings.LastIndexByte(bad, ' ')+1:]
		var sel []int
		for i, c := range wideCols {
			if c.name == col {
				sel = []int{i}
			}
		}
		_, err = rowcodec.ScanRows[wideRow](widePlan, rows, sel)
		var re *rowcodec.RangeError
		if !errors.As(err, &re) || re.Column != col {
			t.Errorf("%s: got %v, want a RangeError for %s", bad, err, col)
		}
	}
}

// FuzzScanValue checks the scan of one database value into a field (the
// path of ScanRows, which skips FromDB's boxing for the common cases)
// against FromDB followed by the reference setter: both fail, or both store
// the same value.
func FuzzScanValue(f *testing.F) {
	f.Add(uint8(0), uint8(1), "x", int64(300), 1.5, true)
	f.Add(uint8(3), uint8(3), "", int64(-1), 0.0, false)
	f.Add(uint8(6), uint8(4), "", int64(0), 3.5e38, false)
	f.Add(uint8(8), uint8(6), "", int64(1700000000), 0.0, false)
	f.Add(uint8(12), uint8(1), "12.50", int64(0), 0.0, false)
	f.Add(uint8(9), uint8(3), "", int64(2), 0.0, false)
	f.Fuzz(func(t *testing.T, col, typ uint8, str string, n int64, x float64, b bool) {
		ci := int(col) % len(wideCols)
		var raw any
		switch typ % 7 {
		case 1:
			raw = str
		case 2:
			raw = []byte(str)
		case 3:
			raw = n
		case 4:
			raw = x
		case 5:
			raw = b
		case 6:
			raw = time.Unix(n%1e11, int64(x)%1e9).In(time.FixedZone("z", 3600))
		}
		var got, want wideRow
		err := rowcodec.ScanValue(widePlan, ci, unsafe.Pointer(&got), raw)
		werr := func() error {
			v, err := rowcodec.FromDB(wideCols[ci].kind, raw)
			if err != nil || v == nil {
				return err
			}
			return setFieldReference(reflect.ValueOf(&want).Elem().Field(ci), v)
		}()
		if (err == nil) != (werr == nil) {
			t.Fatalf("%s ← %#v: scan error %v, reference error %v", wideCols[ci].name, raw, err, werr)
		}
		if err != nil {
			return
		}
		g := rowcodec.AppendRows(nil, widePlan, widePlan.All(), []wideRow{got})
		w := rowcodec.AppendRows(nil, widePlan, widePlan.All(), []wideRow{want})
		if !bytes.Equal(g, w) {
			t.Fatalf("%s ← %#v:\nscan      %s\nreference %s", wideCols[ci].name, raw, g, w)
		}
	})
}
