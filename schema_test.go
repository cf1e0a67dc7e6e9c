package viborm_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/s"
)

func TestSchemaValidation(t *testing.T) {
	type A struct {
		ID   int64
		Name string
	}
	type Nullable struct {
		ID   int64
		Name string // must be *string
	}
	type WrongType struct {
		ID   int64
		Name int
	}
	cases := []struct {
		name   string
		models []viborm.AnyModel
		want   string
	}{
		{"no id", []viborm.AnyModel{viborm.Model[A]("a", s.BigInt("id"), s.String("name"))}, "has no id"},
		{"missing Go field", []viborm.AnyModel{viborm.Model[A]("a", s.BigInt("id").ID(), s.String("email"))}, "no field of"},
		{"type mismatch", []viborm.AnyModel{viborm.Model[WrongType]("a", s.BigInt("id").ID(), s.String("name"))}, "does not hold a string"},
		{"nullable without pointer", []viborm.AnyModel{viborm.Model[Nullable]("a", s.BigInt("id").ID(), s.String("name").Nullable())}, "use a pointer"},
		{"bad default", []viborm.AnyModel{viborm.Model[A]("a", s.BigInt("id").ID(), s.String("name").Default(3))}, "bad default"},
		{"now on string", []viborm.AnyModel{viborm.Model[A]("a", s.BigInt("id").ID(), s.String("name").Now())}, "now() needs a datetime"},
		{"unknown relation target", []viborm.AnyModel{viborm.Model[A]("a", s.BigInt("id").ID(), s.String("name"), s.OneToMany("bs", "b"))}, `target "b"`},
		{"fk type", []viborm.AnyModel{
			viborm.Model[A]("a", s.BigInt("id").ID(), s.String("name")),
			viborm.Model[A]("b", s.BigInt("id").ID(), s.String("name"), s.ManyToOne("a", "a").Fields("name").References("id")),
		}, "does not match"},
		{"duplicate name", []viborm.AnyModel{viborm.Model[A]("a", s.BigInt("id").ID(), s.String("name")), viborm.Model[A]("a", s.BigInt("id").ID(), s.String("name"))}, "share the name"},
		{"bad model name", []viborm.AnyModel{viborm.Model[A]("a:b", s.BigInt("id").ID(), s.String("name"))}, "contain no ':'"},
		{"autoincrement string", []viborm.AnyModel{viborm.Model[A]("a", s.BigInt("id").ID(), s.String("name").Autoincrement())}, "autoincrement needs"},
	}
	for _, tc := range cases {
		_, err := viborm.NewClient(viborm.Config{Models: tc.models, Driver: viborm.FromDB(nil_db(), "sqlite")})
		if !errors.Is(err, viborm.ErrSchema) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an ErrSchema containing %q", tc.name, err, tc.want)
		}
	}
	// Tags bind by name, ignoring case and underscores, or by tag.
	type B struct {
		Id        int64
		Author_ID int64
		When      time.Time `viborm:"createdAt"`
	}
	_, err := viborm.NewClient(viborm.Config{Driver: viborm.FromDB(nil_db(), "sqlite"), Models: []viborm.AnyModel{
		viborm.Model[B]("b", s.BigInt("id").ID(), s.BigInt("authorId"), s.DateTime("createdAt"))}})
	if err != nil {
		t.Fatal(err)
	}
}
