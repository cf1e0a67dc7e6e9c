package query_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// nestedArg is the test's stand-in for the public viborm.Nested.
type nestedArg struct{ a query.NestedArgs }

func nestedOf(v any) (query.NestedArgs, bool) {
	n, ok := v.(nestedArg)
	return n.a, ok
}

func noUpdateOp(any) (byte, any, bool) { return 0, nil, false }

func wBlog(t *testing.T) (map[string]*schema.Model, map[*schema.Model][]*schema.Relation) {
	t.Helper()
	mk := func(name string, opts ...s.Option) *schema.Model {
		md := schema.Build(name, opts, rowType)
		if md.Err != nil {
			t.Fatal(md.Err)
		}
		return md
	}
	models := map[string]*schema.Model{
		"user": mk("user", s.Int("id").ID(), s.String("email").Unique(), s.OneToMany("posts", "post")),
		"post": mk("post", s.Int("id").ID(), s.String("title"), s.Int("authorId"),
			s.ManyToOne("author", "user").Fields("authorId").References("id").OnDelete(s.Cascade), s.ManyToMany("tags", "tag")),
		"tag": mk("tag", s.Int("id").ID(), s.String("name").Unique()),
	}
	rels, err := schema.Resolve(models)
	if err != nil {
		t.Fatal(err)
	}
	return models, rels
}

func TestWriteDataNormalisesNestedWrites(t *testing.T) {
	models, rels := wBlog(t)
	user, post := models["user"], models["post"]
	now := time.Now()
	w, err := query.WriteData(user, rels, W{"email": "a@x", "posts": nestedArg{query.NestedArgs{
		Create: []map[string]any{{"title": "A", "tags": nestedArg{query.NestedArgs{Connect: []map[string]any{{"name": "go"}}}}}},
	}}}, true, now, noUpdateOp, nestedOf, condOf)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Items) != 1 || len(w.Nested) != 1 || w.Nested[0].Path != "data.posts" || len(w.Nested[0].Create) != 1 {
		t.Fatalf("write = %+v", w)
	}
	child := w.Nested[0].Create[0]
	if child.Model != post || len(child.Nested) != 1 || child.Nested[0].Path != "data.posts.create[0].tags" || len(child.Nested[0].Connect) != 1 {
		t.Fatalf("child = %+v", child)
	}
	if got, want := w.Deps(rels, schema.WriteCreate), []string{"post", "post_tag", "user"}; !slices.Equal(got, want) {
		t.Errorf("deps = %v, want %v", got, want)
	}
	// Connecting the author of an existing post changes the post alone.
	w, err = query.WriteData(post, rels, W{"author": nestedArg{query.NestedArgs{Connect: []map[string]any{{"id": 1}}}}}, false, now, noUpdateOp, nestedOf, condOf)
	if err != nil || !w.Nested[0].Owning() {
		t.Fatal(w, err)
	}
	if got := w.Deps(rels, schema.WriteUpdate); !slices.Equal(got, []string{"post"}) {
		t.Errorf("deps of a connect = %v", got)
	}

	for _, tc := range []struct {
		name string
		md   *schema.Model
		data W
		path string
	}{
		{"unknown relation", post, W{"autor": nestedArg{}}, "data.autor"},
		{"scalar on a relation", post, W{"author": 1}, "data.author"},
		{"bad field in a nested create", user, W{"posts": nestedArg{query.NestedArgs{Create: []map[string]any{{"title": "a"}, {"nope": 1}}}}}, "data.posts.create[1].nope"},
		{"fk in a child create", user, W{"posts": nestedArg{query.NestedArgs{Create: []map[string]any{{"authorId": 1}}}}}, "data.posts.create[0].authorId"},
		{"non-unique connect", post, W{"tags": nestedArg{query.NestedArgs{Connect: []map[string]any{{"name": "a"}, {"id": nil}}}}}, "data.tags.connect[1]"},
		{"disconnect in a create", post, W{"tags": nestedArg{query.NestedArgs{Disconnect: []map[string]any{{"id": 1}}}}}, "data.tags"},
		{"to-one disconnect of a required fk", post, W{"author": nestedArg{query.NestedArgs{Unset: true}}}, "data.author.disconnect"},
	} {
		create := tc.name == "disconnect in a create"
		_, err := query.WriteData(tc.md, rels, tc.data, create, now, noUpdateOp, nestedOf, condOf)
		var e *verr.Error
		if !errors.As(err, &e) || e.Code != verr.CodeValidation || e.Field != tc.path {
			t.Errorf("%s: %v, want a validation error at %q", tc.name, err, tc.path)
		}
	}
	// Depth is bounded.
	deep := W{"title": "x"}
	for range query.MaxNestedDepth + 2 {
		deep = W{"email": "e", "posts": nestedArg{query.NestedArgs{Create: []map[string]any{{"title": "t", "author": nestedArg{query.NestedArgs{Create: []map[string]any{deep}}}}}}}}
	}
	if _, err := query.WriteData(user, rels, deep, true, now, noUpdateOp, nestedOf, condOf); err == nil {
		t.Error("nested writes beyond MaxNestedDepth accepted")
	}
}
