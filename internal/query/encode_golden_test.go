package query_test

import (
	"testing"

	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
)

// TestEncodeGolden pins the bytes of the canonical encoding of reads that
// use every part of a Query. Cache keys hash it, so keys are stable only as
// long as these are: a change here changes every key.
func TestEncodeGolden(t *testing.T) {
	env := &query.RelEnv{Rels: rfBlog, Where: func(md *schema.Model, w map[string]any, path string) (*query.Expr, error) {
		return query.WhereRels(md, rfBlog, w, path, condOf)
	}}
	neg, two := -3, 2
	many, err := query.Find(rfUser, rfBlog, W{"name": cond(query.OpStartsWith, "a"), "posts": cond(query.OpSome, W{"title": "x"})},
		[]query.OrderBy{{Field: "name", Desc: true, Nulls: query.NullsLast}}, &neg, 1, W{"email": "a@x"}, []string{"name"}, condOf)
	if err != nil {
		t.Fatal(err)
	}
	if many.Sel, err = query.Select(rfUser, []string{"id", "name"}, nil); err != nil {
		t.Fatal(err)
	}
	err = many.SetIncludes(env, rfUser, map[string]query.IncludeArg{
		"posts": {Where: W{"title": cond(query.OpContains, "go")}, OrderBy: []query.OrderBy{{Field: "title"}}, Take: &two, Skip: 1,
			Include: map[string]query.IncludeArg{"tags": {}}, Count: map[string]map[string]any{"tags": {"label": "t"}}},
		"profile": {},
	}, map[string]map[string]any{"posts": {"title": "y"}}, "include", 1)
	if err != nil {
		t.Fatal(err)
	}
	group, err := query.GroupByRels(rfPost, rfBlog, []string{"title", "authorId"}, W{"id": cond(query.OpGt, 1)},
		[]query.OrderBy{{Field: "_count"}, {Field: "title", Desc: true}}, &two, 1,
		query.Aggregates{Count: []string{"_all", "id"}, Max: []string{"id"}, Avg: []string{"id"}},
		map[string]map[string]*query.Cond{"_count": {"_all": cond(query.OpGt, 1)}, "_max": {"id": cond(query.OpLt, 100)}}, condOf)
	if err != nil {
		t.Fatal(err)
	}
	agg, err := query.AggregateRels(rfPost, rfBlog, W{"author": cond(query.OpIs, nil)}, []query.OrderBy{{Field: "id"}}, &two, 0,
		query.Aggregates{Sum: []string{"id"}, Min: []string{"title"}}, condOf)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		q    *query.Query
		want string
	}{
		{"plain", &query.Query{Where: query.PKExpr(rfUser, []any{int64(7)}), Sel: rfUser.Fields},
			"WC\x02id\x01\x00i\x0eS\x04\x02id\x04name\x05email\x04nick"},
		{"findMany", many,
			"WA\x02C\x04name\n\x00s\x01aR\x05posts@\x00C\x05title\x01\x00s\x01xO\x02\x00\x04name\x01\x02\x00\x02id\x00\x00L\x03K\x01S\x02\x02id\x04nameUC\x05email\x01\x00s\x03a@xVD\x01\x04nameI\x02\x05postsYWC\x05title\t\x00s\x02goO\x01\x00\x05title\x00\x00L\x02K\x01S\x03\x02id\x05title\bauthorIdI\x01\x04tags\rW-S\x02\x02id\x05labelN\x01\x04tagsC\x05label\x01\x00s\x01t\aprofile\x0eW-S\x02\x02id\x06userIdN\x01\x05postsC\x05title\x01\x00s\x01y"},
		{"groupBy", group,
			"WC\x02id\a\x00i\x02O\x02\x05count\x00\x00\x00\x00\x05title\x01\x00L\x02K\x01G\x04\x03avg\x02id\x05count\x00\x05count\x02id\x03max\x02idB\x02\x05title\bauthorIdHA\x02Cg\x05count\x00\a\x00i\x02Cg\x03max\x02id\x05\x00i\xc8\x01"},
		{"aggregate", agg,
			"WR\x06authorC\x01-O\x01\x00\x02id\x00\x00L\x02G\x02\x03min\x05title\x03sum\x02id"},
	} {
		if got := string(c.q.Encode(nil)); got != c.want {
			t.Errorf("%s encodes as\n%q\nwant\n%q", c.name, got, c.want)
		}
	}
}
