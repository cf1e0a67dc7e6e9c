package s_test

import (
	"reflect"
	"testing"

	"github.com/viborm/viborm-go/s"
)

func TestFieldBuildersRecordWhatTheyAreTold(t *testing.T) {
	for _, tc := range []struct {
		f    *s.Field
		want s.FieldDef
	}{
		{s.String("id").ID().ULID(), s.FieldDef{Name: "id", Kind: s.KindString, ID: true, Default: s.DefaultULID}},
		{s.BigInt("n").ID().Autoincrement(), s.FieldDef{Name: "n", Kind: s.KindBigInt, ID: true, Default: s.DefaultAutoincrement}},
		{s.String("email").Unique().Map("mail"), s.FieldDef{Name: "email", Kind: s.KindString, Unique: true, Column: "mail"}},
		{s.Int("age").Nullable().Default(3), s.FieldDef{Name: "age", Kind: s.KindInt, Nullable: true, Default: s.DefaultValue, Value: 3}},
		{s.DateTime("at").Now().UpdatedAt(), s.FieldDef{Name: "at", Kind: s.KindDateTime, Default: s.DefaultNow, UpdatedAt: true}},
		{s.Decimal("d").Precision(10, 2), s.FieldDef{Name: "d", Kind: s.KindDecimal, Precision: 10, Scale: 2}},
		{s.String("u").UUID(), s.FieldDef{Name: "u", Kind: s.KindString, Default: s.DefaultUUID}},
		{s.Enum("e", "a", "b"), s.FieldDef{Name: "e", Kind: s.KindEnum, Values: []string{"a", "b"}}},
		{s.Float("f"), s.FieldDef{Name: "f", Kind: s.KindFloat}},
		{s.Boolean("b"), s.FieldDef{Name: "b", Kind: s.KindBoolean}},
		{s.JSON("j"), s.FieldDef{Name: "j", Kind: s.KindJSON}},
		{s.Bytes("y"), s.FieldDef{Name: "y", Kind: s.KindBytes}},
	} {
		if got := tc.f.Def(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("got %+v\nwant %+v", got, tc.want)
		}
	}
}

func TestRelationsAndModelOptions(t *testing.T) {
	r := s.ManyToOne("author", "user").Fields("authorId").References("id").OnDelete(s.Cascade).OnUpdate(s.SetNull).Def()
	want := s.RelationDef{Name: "author", Kind: s.ManyToOneKind, Target: "user", Fields: []string{"authorId"},
		References: []string{"id"}, OnDelete: s.Cascade, OnUpdate: s.SetNull}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %+v\nwant %+v", r, want)
	}
	if k := s.OneToOne("p", "profile").Def().Kind; k != s.OneToOneKind {
		t.Errorf("OneToOne kind %v", k)
	}
	if k := s.OneToMany("posts", "post").Def().Kind; k != s.OneToManyKind {
		t.Errorf("OneToMany kind %v", k)
	}
	for _, tc := range []struct {
		got, want s.ModelOpt
	}{
		{s.Table("users"), s.ModelOpt{Kind: s.TableOpt, Name: "users"}},
		{s.ID("a", "b"), s.ModelOpt{Kind: s.IDOpt, Fields: []string{"a", "b"}}},
		{s.Unique("a").Named("u_a"), s.ModelOpt{Kind: s.UniqueOpt, Fields: []string{"a"}, Name: "u_a"}},
		{s.Index("b"), s.ModelOpt{Kind: s.IndexOpt, Fields: []string{"b"}}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("got %+v, want %+v", tc.got, tc.want)
		}
	}
}

func TestKindNames(t *testing.T) {
	for k, want := range map[s.Kind]string{s.KindString: "string", s.KindBigInt: "bigint", s.KindEnum: "enum", s.Kind(0): "", s.Kind(200): "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
