package sqlgen_test

import (
	"testing"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/s"
)

func incModels(t *testing.T) (user, post *schema.Model, posts *schema.Relation) {
	t.Helper()
	user = schema.Build("user", []s.Option{s.BigInt("id").ID(), s.String("name"), s.OneToMany("posts", "post")}, reflectRow)
	post = schema.Build("post", []s.Option{s.BigInt("id").ID(), s.BigInt("authorId").Map("author_id"), s.Int("rank"),
		s.ManyToOne("author", "user").Fields("authorId").References("id")}, reflectRow)
	rels, err := schema.Resolve(map[string]*schema.Model{"user": user, "post": post})
	if err != nil {
		t.Fatal(err)
	}
	return user, post, rels[user][0]
}

// TestIncludeRowsPerParentWindow: a to-many include with take/skip pages
// each parent in SQL, partitioned by the foreign key.
func TestIncludeRowsPerParentWindow(t *testing.T) {
	_, post, posts := incModels(t)
	link, err := schema.LinkOf(posts)
	if err != nil {
		t.Fatal(err)
	}
	cq := &query.Query{Sel: post.Fields, Order: []query.Order{{F: post.ByName["rank"], Desc: true}}, Take: 2, HasTake: true, Skip: 1}
	keys := [][]any{{int64(1)}, {int64(2)}}
	for _, c := range []struct {
		d    dialect.Dialect
		want string
	}{
		{dialect.Postgres, `SELECT "id", "author_id", "rank" FROM (SELECT "id", "author_id", "rank", ROW_NUMBER() OVER (PARTITION BY "author_id" ORDER BY "rank" DESC, "id" ASC) AS "_rn" FROM "post" WHERE "author_id" IN ($1, $2)) "_w" WHERE "_rn" > 1 AND "_rn" <= 3 ORDER BY "author_id", "_rn"`},
		{dialect.MySQL, "SELECT `id`, `author_id`, `rank` FROM (SELECT `id`, `author_id`, `rank`, ROW_NUMBER() OVER (PARTITION BY `author_id` ORDER BY `rank` DESC, `id` ASC) AS `_rn` FROM `post` WHERE `author_id` IN (?, ?)) `_w` WHERE `_rn` > 1 AND `_rn` <= 3 ORDER BY `author_id`, `_rn`"},
	} {
		st := sqlgen.IncludeRows(c.d, post, cq, link, keys)
		if st.SQL != c.want || len(st.Args) != 2 {
			t.Errorf("%s:\n got %s\nwant %s", c.d.Name(), st.SQL, c.want)
		}
	}
	// Without a page: one IN, grouped by parent, the id breaking ties.
	st := sqlgen.IncludeRows(dialect.Postgres, post, &query.Query{Sel: post.Fields}, link, keys)
	if want := `SELECT "id", "author_id", "rank" FROM "post" WHERE "author_id" IN ($1, $2) ORDER BY "author_id" ASC, "id" ASC`; st.SQL != want {
		t.Errorf("unpaged:\n got %s\nwant %s", st.SQL, want)
	}
}

func TestRelCountsCorrelated(t *testing.T) {
	user, post, posts := incModels(t)
	link, _ := schema.LinkOf(posts)
	w := &query.Expr{Kind: query.Cmp, F: post.ByName["rank"], Op: query.OpGt, V: int64(1)}
	st := sqlgen.RelCounts(dialect.Postgres, user, []query.RelCount{{Name: "posts", Rel: posts, Link: link, Where: w}}, [][]any{{int64(7)}})
	want := `SELECT "id", (SELECT COUNT(*) FROM "post" WHERE "post"."author_id" = "_p"."id" AND "rank" > $1) FROM "user" "_p" WHERE "id" IN ($2)`
	if st.SQL != want || len(st.Args) != 2 {
		t.Errorf("\n got %s\nwant %s", st.SQL, want)
	}
}
