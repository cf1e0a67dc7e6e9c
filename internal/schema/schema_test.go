package schema_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

var rowType = reflect.TypeFor[map[string]any]()

func schemaErr(t *testing.T, err error, field, msg string) {
	t.Helper()
	var e *verr.Error
	if !errors.As(err, &e) || e.Code != verr.CodeSchema || e.Field != field || !strings.Contains(e.Message, msg) {
		t.Errorf("got %v, want a schema error on %q containing %q", err, field, msg)
	}
}

func TestBuildChecksDeclarations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  []s.Option
		field string
		msg   string
	}{
		{"user", []s.Option{s.Int("id").ID(), s.Int("id")}, "id", "duplicate field"},
		{"user", []s.Option{s.String("a")}, "", "has no id"},
		{"user", []s.Option{s.Int("id").ID(), s.Enum("e")}, "e", "needs values"},
		{"user", []s.Option{s.Int("id").ID(), s.String("t").Now()}, "t", "now() needs a datetime"},
		{"user", []s.Option{s.Int("id").ID(), s.Int("n").Default("x")}, "n", "bad default"},
		{"user", []s.Option{s.Int("id").ID(), s.Int("n").Autoincrement()}, "n", "single-field id"},
		{"user", []s.Option{s.Int("id").ID(), s.Unique("ghost")}, "ghost", "unknown field"},
		{"a:b", []s.Option{s.Int("id").ID()}, "", "non-empty"},
	} {
		md := schema.Build(tc.name, tc.opts, rowType)
		schemaErr(t, md.Err, tc.field, tc.msg)
	}
}

func TestBuildKeysAndUniques(t *testing.T) {
	md := schema.Build("m", []s.Option{s.String("a"), s.String("b").Unique(), s.Int("c"), s.ID("a", "c"), s.Unique("b", "c"), s.Table("ms")}, rowType)
	if md.Err != nil {
		t.Fatal(md.Err)
	}
	names := func(fs []*schema.Field) string {
		var out []string
		for _, f := range fs {
			out = append(out, f.Name)
		}
		return strings.Join(out, "+")
	}
	var got []string
	for _, u := range md.Uniques {
		got = append(got, names(u))
	}
	if md.Table != "ms" || names(md.PK) != "a+c" || strings.Join(got, ",") != "a+c,b,b+c" {
		t.Errorf("table %s, pk %s, uniques %v", md.Table, names(md.PK), got)
	}
	if !md.IsUniqueSet([]*schema.Field{md.ByName["c"], md.ByName["b"]}) || md.IsUniqueSet([]*schema.Field{md.ByName["c"]}) {
		t.Error("IsUniqueSet")
	}
}

type narrow struct {
	ID    int64
	Small int16 // an s.Int is 32-bit
}

type unsigned struct {
	ID  int64
	Big uint64 // as wide as an s.BigInt: allowed
}

type nullable struct {
	ID   int64
	Name string // nullable field needs a pointer
}

type tagged struct {
	Key   int64  `viborm:"id"`
	Other string `viborm:"-"`
	Name_ *string
}

// TestIntegerGoTypesHoldTheColumnRange pins the hardening range check: a Go
// integer type narrower than its column is refused when the model is built.
func TestIntegerGoTypesHoldTheColumnRange(t *testing.T) {
	md := schema.Build("n", []s.Option{s.BigInt("id").ID(), s.Int("small")}, reflect.TypeFor[narrow]())
	schemaErr(t, md.Err, "small", "int16 cannot hold every value of a int (32-bit signed)")
	md = schema.Build("u", []s.Option{s.BigInt("id").ID(), s.BigInt("big")}, reflect.TypeFor[unsigned]())
	if md.Err != nil {
		t.Errorf("uint64 for a bigint: %v", md.Err)
	}
	md = schema.Build("u", []s.Option{s.BigInt("id").ID(), s.String("name").Nullable()}, reflect.TypeFor[nullable]())
	schemaErr(t, md.Err, "name", "use a pointer type")
	md = schema.Build("t", []s.Option{s.BigInt("id").ID(), s.String("name").Nullable()}, reflect.TypeFor[tagged]())
	if md.Err != nil {
		t.Fatalf("tag and underscore binding: %v", md.Err)
	}
	if b := md.ByName["name"].Bind; !b.Ptr || b.Index[0] != 2 || md.ByName["id"].Bind.Index[0] != 0 {
		t.Errorf("bindings %+v %+v", md.ByName["id"].Bind, b)
	}
	if md.Codec == nil || md.IsRow || md.GoType != reflect.TypeFor[tagged]() {
		t.Error("no codec plan or wrong type")
	}
}

func TestResolveAndFKOrder(t *testing.T) {
	post := schema.Build("post", []s.Option{s.Int("id").ID(), s.Int("authorId"), s.ManyToOne("author", "user").Fields("authorId").References("id")}, rowType)
	user := schema.Build("user", []s.Option{s.BigInt("id").ID(), s.OneToMany("posts", "post")}, rowType)
	comment := schema.Build("a_comment", []s.Option{s.Int("id").ID(), s.Int("postId"), s.ManyToOne("post", "post").Fields("postId").References("id")}, rowType)
	models := map[string]*schema.Model{"post": post, "user": user, "a_comment": comment}
	rels, err := schema.Resolve(models)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, md := range schema.FKOrder(models, rels) {
		order = append(order, md.Name)
	}
	if got := strings.Join(order, ","); got != "user,post,a_comment" {
		t.Errorf("FK order %s", got)
	}
	bad := schema.Build("bad", []s.Option{s.Int("id").ID(), s.String("uid"), s.ManyToOne("u", "user").Fields("uid").References("id")}, rowType)
	lone := schema.Build("user", []s.Option{s.BigInt("id").ID()}, rowType)
	_, err = schema.Resolve(map[string]*schema.Model{"user": lone, "bad": bad})
	schemaErr(t, err, "u", "does not match")
	_, err = schema.Resolve(map[string]*schema.Model{"post": post})
	schemaErr(t, err, "author", "is not among Config.Models")
}

func TestCoerce(t *testing.T) {
	f := func(opts ...s.Option) *schema.Field {
		md := schema.Build("c", append([]s.Option{s.Int("id").ID()}, opts...), rowType)
		if md.Err != nil {
			t.Fatal(md.Err)
		}
		return md.Fields[1]
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 7200))
	for _, tc := range []struct {
		f    *schema.Field
		in   any
		want any
		err  string
	}{
		{f(s.Int("n")), int8(-3), int64(-3), ""},
		{f(s.Int("n")), int64(math.MaxInt32 + 1), nil, "overflows an int field"},
		{f(s.BigInt("n")), uint64(math.MaxUint64), nil, "overflows"},
		{f(s.BigInt("n")), 2.0, int64(2), ""},
		{f(s.BigInt("n")), 2.5, nil, "not a valid bigint"},
		{f(s.Float("x")), math.Inf(1), nil, "finite"},
		{f(s.Decimal("d")), " 1.50 ", "1.50", ""},
		{f(s.Decimal("d")), "1e5", nil, "not a decimal"},
		{f(s.DateTime("t")), at, at.UTC(), ""},
		{f(s.DateTime("t")), "2025-01-02T01:04:05Z", time.Date(2025, 1, 2, 1, 4, 5, 0, time.UTC), ""},
		{f(s.Enum("e", "a", "b")), "c", nil, "not one of a, b"},
		{f(s.JSON("j")), map[string]int{"a": 1}, json.RawMessage(`{"a":1}`), ""},
		{f(s.JSON("j")), "{ bad", nil, "not valid JSON"},
		{f(s.String("s")), (*string)(nil), nil, ""},
	} {
		got, err := schema.Coerce(tc.f, tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Coerce(%s, %v) = %v, %v; want error %q", tc.f.Kind, tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Coerce(%s, %v) = %#v, %v; want %#v", tc.f.Kind, tc.in, got, err, tc.want)
		}
	}
}

// TestCoerceRefusesInt64BeyondAnIntField guards the fast path of Coerce: an
// int or int64 given for an s.Int (32-bit) field was accepted unchecked
// beyond the 32-bit range, while every other integer type was checked.
func TestCoerceRefusesInt64BeyondAnIntField(t *testing.T) {
	md := schema.Build("c", []s.Option{s.Int("id").ID(), s.Int("n")}, rowType)
	for _, v := range []any{int64(math.MaxInt32) + 1, int64(math.MinInt32) - 1, math.MaxInt32 + 1} {
		if got, err := schema.Coerce(md.ByName["n"], v); err == nil {
			t.Errorf("Coerce(int field, %v) = %v, want an overflow error", v, got)
		}
	}
	if got, err := schema.Coerce(md.ByName["n"], int64(math.MinInt32)); err != nil || got != int64(math.MinInt32) {
		t.Errorf("Coerce(int field, MinInt32) = %v, %v", got, err)
	}
}
