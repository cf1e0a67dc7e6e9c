package query_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

func incEnv(t *testing.T) (*query.RelEnv, map[string]*schema.Model) {
	t.Helper()
	row := reflect.TypeFor[map[string]any]()
	ms := map[string]*schema.Model{
		"user":    schema.Build("user", []s.Option{s.BigInt("id").ID(), s.String("name"), s.OneToMany("posts", "post")}, row),
		"post":    schema.Build("post", []s.Option{s.BigInt("id").ID(), s.BigInt("authorId"), s.ManyToOne("author", "user").Fields("authorId").References("id"), s.OneToMany("comments", "comment"), s.ManyToMany("tags", "tag")}, row),
		"comment": schema.Build("comment", []s.Option{s.BigInt("id").ID(), s.BigInt("postId"), s.ManyToOne("post", "post").Fields("postId").References("id")}, row),
		"tag":     schema.Build("tag", []s.Option{s.BigInt("id").ID(), s.ManyToMany("posts", "post")}, row),
	}
	rels, err := schema.Resolve(ms)
	if err != nil {
		t.Fatal(err)
	}
	return &query.RelEnv{Rels: rels, Where: func(md *schema.Model, w map[string]any, path string) (*query.Expr, error) {
		return query.Where(md, w, path, func(any) (*query.Cond, bool) { return nil, false })
	}}, ms
}

func TestDepsFollowIncludesAndCounts(t *testing.T) {
	env, ms := incEnv(t)
	q := &query.Query{Sel: ms["user"].Fields}
	err := q.SetIncludes(env, ms["user"], map[string]query.IncludeArg{
		"posts": {Include: map[string]query.IncludeArg{"tags": {}}, Count: map[string]map[string]any{"comments": nil}},
	}, nil, "include", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Deps(), []string{"comment", "post", "post_tag", "tag"}; !slices.Equal(got, want) {
		t.Fatalf("deps %v, want %v", got, want)
	}
	if got := (&query.Query{}).Deps(); len(got) != 0 {
		t.Fatalf("a read without relations depends on %v", got)
	}
}

func TestIncludeDepthLimit(t *testing.T) {
	env, ms := incEnv(t)
	q := &query.Query{Sel: ms["post"].Fields}
	err := q.SetIncludes(env, ms["post"], map[string]query.IncludeArg{"author": {}}, nil, "include", query.MaxIncludeDepth)
	if err != nil {
		t.Fatalf("level %d refused: %v", query.MaxIncludeDepth, err)
	}
	err = q.SetIncludes(env, ms["post"], map[string]query.IncludeArg{"author": {}}, nil, "include", query.MaxIncludeDepth+1)
	var e *verr.Error
	if !errors.As(err, &e) || e.Code != verr.CodeValidation {
		t.Fatalf("level %d: %v", query.MaxIncludeDepth+1, err)
	}
}
