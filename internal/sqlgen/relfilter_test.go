package sqlgen_test

import (
	"testing"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/s"
)

// The blog of the relation filter tests: a user has posts (one-to-many,
// the post holds authorId) and a profile (one-to-one, the profile holds
// userId); a post has tags (many-to-many) and a nullable author.
var blog = func() query.Rels {
	models := map[string]*schema.Model{}
	add := func(name string, opts ...s.Option) { models[name] = schema.Build(name, opts, reflectRow) }
	add("user", s.Int("id").ID(), s.String("name"),
		s.OneToMany("posts", "post"), s.OneToOne("profile", "profile"))
	add("post", s.Int("id").ID(), s.String("title"), s.Boolean("published"), s.Int("authorId").Nullable(),
		s.Decimal("score").Nullable(),
		s.ManyToOne("author", "user").Fields("authorId").References("id"),
		s.ManyToMany("tags", "tag"))
	add("profile", s.Int("id").ID(), s.String("bio").Nullable(), s.Int("userId").Unique(),
		s.OneToOne("user", "user").Fields("userId").References("id"))
	add("tag", s.Int("id").ID(), s.String("label"), s.ManyToMany("posts", "post"))
	for _, md := range models {
		if md.Err != nil {
			panic(md.Err)
		}
	}
	rels, err := schema.Resolve(models)
	if err != nil {
		panic(err)
	}
	return rels
}()

func blogModel(name string) *schema.Model {
	for md := range blog {
		if md.Name == name {
			return md
		}
	}
	panic(name)
}

func relWhere(t *testing.T, md *schema.Model, w map[string]any) *query.Expr {
	t.Helper()
	e, err := query.WhereRels(md, blog, w, "where", condOf)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func rel(op query.Op, w map[string]any) *query.Cond { return cond(op, w) }

// relGolden is the SQL of each case of TestRelFilterGolden and
// TestPagedGolden, per dialect.
var relGolden = map[string]golden{
	"nested": {
		"sqlite":   {"SELECT `id` FROM `user` WHERE EXISTS (SELECT 1 FROM `post` AS `_r1` WHERE `_r1`.`authorId` = `user`.`id` AND NOT EXISTS (SELECT 1 FROM `post_tag` AS `_j2` JOIN `tag` AS `_r2` ON `_r2`.`id` = `_j2`.`tagId` WHERE `_j2`.`postId` = `_r1`.`id` AND (`_r2`.`label` = ?) IS NOT TRUE))", []any{"go"}},
		"postgres": {"SELECT \"id\" FROM \"user\" WHERE EXISTS (SELECT 1 FROM \"post\" AS \"_r1\" WHERE \"_r1\".\"authorId\" = \"user\".\"id\" AND NOT EXISTS (SELECT 1 FROM \"post_tag\" AS \"_j2\" JOIN \"tag\" AS \"_r2\" ON \"_r2\".\"id\" = \"_j2\".\"tagId\" WHERE \"_j2\".\"postId\" = \"_r1\".\"id\" AND (\"_r2\".\"label\" = $1) IS NOT TRUE))", []any{"go"}},
		"mysql":    {"SELECT `id` FROM `user` WHERE EXISTS (SELECT 1 FROM `post` AS `_r1` WHERE `_r1`.`authorId` = `user`.`id` AND NOT EXISTS (SELECT 1 FROM `post_tag` AS `_j2` JOIN `tag` AS `_r2` ON `_r2`.`id` = `_j2`.`tagId` WHERE `_j2`.`postId` = `_r1`.`id` AND (`_r2`.`label` = ?) IS NOT TRUE))", []any{"go"}},
	},
	"none": {
		"sqlite":   {"SELECT `id` FROM `user` WHERE NOT EXISTS (SELECT 1 FROM `post` AS `_r1` WHERE `_r1`.`authorId` = `user`.`id`)", nil},
		"postgres": {"SELECT \"id\" FROM \"user\" WHERE NOT EXISTS (SELECT 1 FROM \"post\" AS \"_r1\" WHERE \"_r1\".\"authorId\" = \"user\".\"id\")", nil},
		"mysql":    {"SELECT `id` FROM `user` WHERE NOT EXISTS (SELECT 1 FROM `post` AS `_r1` WHERE `_r1`.`authorId` = `user`.`id`)", nil},
	},
	"isNil": {
		"sqlite":   {"SELECT `id` FROM `post` WHERE (`post`.`authorId` IS NULL)", nil},
		"postgres": {"SELECT \"id\" FROM \"post\" WHERE (\"post\".\"authorId\" IS NULL)", nil},
		"mysql":    {"SELECT `id` FROM `post` WHERE (`post`.`authorId` IS NULL)", nil},
	},
	"some": {
		"sqlite":   {"SELECT `id` FROM `user` WHERE EXISTS (SELECT 1 FROM `post` AS `_r1` WHERE `_r1`.`authorId` = `user`.`id` AND `_r1`.`published` = ?)", []any{int64(1)}},
		"postgres": {"SELECT \"id\" FROM \"user\" WHERE EXISTS (SELECT 1 FROM \"post\" AS \"_r1\" WHERE \"_r1\".\"authorId\" = \"user\".\"id\" AND \"_r1\".\"published\" = $1)", []any{true}},
		"mysql":    {"SELECT `id` FROM `user` WHERE EXISTS (SELECT 1 FROM `post` AS `_r1` WHERE `_r1`.`authorId` = `user`.`id` AND `_r1`.`published` = ?)", []any{true}},
	},
	"every": {
		"sqlite":   {"SELECT `id` FROM `user` WHERE NOT EXISTS (SELECT 1 FROM `post` AS `_r1` WHERE `_r1`.`authorId` = `user`.`id` AND (CAST(`_r1`.`score` AS NUMERIC) > CAST(? AS NUMERIC)) IS NOT TRUE)", []any{"1.5"}},
		"postgres": {"SELECT \"id\" FROM \"user\" WHERE NOT EXISTS (SELECT 1 FROM \"post\" AS \"_r1\" WHERE \"_r1\".\"authorId\" = \"user\".\"id\" AND (\"_r1\".\"score\" > $1) IS NOT TRUE)", []any{"1.5"}},
		"mysql":    {"SELECT `id` FROM `user` WHERE NOT EXISTS (SELECT 1 FROM `post` AS `_r1` WHERE `_r1`.`authorId` = `user`.`id` AND (`_r1`.`score` > ?) IS NOT TRUE)", []any{"1.5"}},
	},
	"is": {
		"sqlite":   {"SELECT `id` FROM `post` WHERE EXISTS (SELECT 1 FROM `user` AS `_r1` WHERE `_r1`.`id` = `post`.`authorId` AND `_r1`.`name` = ?)", []any{"ada"}},
		"postgres": {"SELECT \"id\" FROM \"post\" WHERE EXISTS (SELECT 1 FROM \"user\" AS \"_r1\" WHERE \"_r1\".\"id\" = \"post\".\"authorId\" AND \"_r1\".\"name\" = $1)", []any{"ada"}},
		"mysql":    {"SELECT `id` FROM `post` WHERE EXISTS (SELECT 1 FROM `user` AS `_r1` WHERE `_r1`.`id` = `post`.`authorId` AND `_r1`.`name` = ?)", []any{"ada"}},
	},
	"isNotNil": {
		"sqlite":   {"SELECT `id` FROM `post` WHERE (`post`.`authorId` IS NOT NULL)", nil},
		"postgres": {"SELECT \"id\" FROM \"post\" WHERE (\"post\".\"authorId\" IS NOT NULL)", nil},
		"mysql":    {"SELECT `id` FROM `post` WHERE (`post`.`authorId` IS NOT NULL)", nil},
	},
	"inverse": {
		"sqlite":   {"SELECT `id` FROM `user` WHERE NOT EXISTS (SELECT 1 FROM `profile` AS `_r1` WHERE `_r1`.`userId` = `user`.`id`)", nil},
		"postgres": {"SELECT \"id\" FROM \"user\" WHERE NOT EXISTS (SELECT 1 FROM \"profile\" AS \"_r1\" WHERE \"_r1\".\"userId\" = \"user\".\"id\")", nil},
		"mysql":    {"SELECT `id` FROM `user` WHERE NOT EXISTS (SELECT 1 FROM `profile` AS `_r1` WHERE `_r1`.`userId` = `user`.`id`)", nil},
	},
	"m2m": {
		"sqlite":   {"SELECT `id` FROM `post` WHERE EXISTS (SELECT 1 FROM `post_tag` AS `_j1` JOIN `tag` AS `_r1` ON `_r1`.`id` = `_j1`.`tagId` WHERE `_j1`.`postId` = `post`.`id` AND `_r1`.`label` = ?)", []any{"go"}},
		"postgres": {"SELECT \"id\" FROM \"post\" WHERE EXISTS (SELECT 1 FROM \"post_tag\" AS \"_j1\" JOIN \"tag\" AS \"_r1\" ON \"_r1\".\"id\" = \"_j1\".\"tagId\" WHERE \"_j1\".\"postId\" = \"post\".\"id\" AND \"_r1\".\"label\" = $1)", []any{"go"}},
		"mysql":    {"SELECT `id` FROM `post` WHERE EXISTS (SELECT 1 FROM `post_tag` AS `_j1` JOIN `tag` AS `_r1` ON `_r1`.`id` = `_j1`.`tagId` WHERE `_j1`.`postId` = `post`.`id` AND `_r1`.`label` = ?)", []any{"go"}},
	},
	"cursor": {
		"sqlite":   {"SELECT `id` FROM `post` CROSS JOIN (SELECT `_c`.`score` AS `_k0`, `_c`.`id` AS `_k1` FROM `post` AS `_c` WHERE `_c`.`id` = ?) AS `_k` WHERE (((CAST(`score` AS NUMERIC) > CAST(`_k`.`_k0` AS NUMERIC) OR CAST(`_k`.`_k0` AS NUMERIC) IS NULL AND `score` IS NOT NULL)) OR ((CAST(`score` AS NUMERIC) = CAST(`_k`.`_k0` AS NUMERIC) OR `score` IS NULL AND CAST(`_k`.`_k0` AS NUMERIC) IS NULL) AND `id` > `_k`.`_k1`) OR ((CAST(`score` AS NUMERIC) = CAST(`_k`.`_k0` AS NUMERIC) OR `score` IS NULL AND CAST(`_k`.`_k0` AS NUMERIC) IS NULL) AND `id` = `_k`.`_k1`)) ORDER BY CAST(`score` AS NUMERIC) ASC, `id` ASC LIMIT 2", []any{int64(7)}},
		"postgres": {"SELECT \"id\" FROM \"post\" CROSS JOIN (SELECT \"_c\".\"score\" AS \"_k0\", \"_c\".\"id\" AS \"_k1\" FROM \"post\" AS \"_c\" WHERE \"_c\".\"id\" = $1) AS \"_k\" WHERE (((\"score\" > \"_k\".\"_k0\" OR \"score\" IS NULL AND \"_k\".\"_k0\" IS NOT NULL)) OR ((\"score\" = \"_k\".\"_k0\" OR \"score\" IS NULL AND \"_k\".\"_k0\" IS NULL) AND \"id\" > \"_k\".\"_k1\") OR ((\"score\" = \"_k\".\"_k0\" OR \"score\" IS NULL AND \"_k\".\"_k0\" IS NULL) AND \"id\" = \"_k\".\"_k1\")) ORDER BY \"score\" ASC, \"id\" ASC LIMIT 2", []any{int64(7)}},
		"mysql":    {"SELECT `id` FROM `post` CROSS JOIN (SELECT `_c`.`score` AS `_k0`, `_c`.`id` AS `_k1` FROM `post` AS `_c` WHERE `_c`.`id` = ?) AS `_k` WHERE (((`score` > `_k`.`_k0` OR `_k`.`_k0` IS NULL AND `score` IS NOT NULL)) OR ((`score` = `_k`.`_k0` OR `score` IS NULL AND `_k`.`_k0` IS NULL) AND `id` > `_k`.`_k1`) OR ((`score` = `_k`.`_k0` OR `score` IS NULL AND `_k`.`_k0` IS NULL) AND `id` = `_k`.`_k1`)) ORDER BY `score` ASC, `id` ASC LIMIT 2", []any{int64(7)}},
	},
	"back": {
		"sqlite":   {"SELECT `id` FROM (SELECT `id`, `title` FROM `post` ORDER BY `title` ASC, `id` DESC LIMIT 2) AS `_b` ORDER BY `title` DESC, `id` ASC", nil},
		"postgres": {"SELECT \"id\" FROM (SELECT \"id\", \"title\" FROM \"post\" ORDER BY \"title\" ASC, \"id\" DESC LIMIT 2) AS \"_b\" ORDER BY \"title\" DESC, \"id\" ASC", nil},
		"mysql":    {"SELECT `id` FROM (SELECT `id`, `title` FROM `post` ORDER BY `title` ASC, `id` DESC LIMIT 2) AS `_b` ORDER BY `title` DESC, `id` ASC", nil},
	},
	"distinct": {
		"sqlite":   {"SELECT `id` FROM (SELECT `id`, `title`, `published`, `authorId`, `score`, ROW_NUMBER() OVER (PARTITION BY `title` ORDER BY `id` ASC) AS `_rn` FROM `post` WHERE EXISTS (SELECT 1 FROM `user` AS `_r1` WHERE `_r1`.`id` = `post`.`authorId` AND `_r1`.`name` = ?)) AS `_d` WHERE `_rn` = 1 ORDER BY `id` ASC LIMIT -1 OFFSET 1", []any{"a"}},
		"postgres": {"SELECT \"id\" FROM (SELECT \"id\", \"title\", \"published\", \"authorId\", \"score\", ROW_NUMBER() OVER (PARTITION BY \"title\" ORDER BY \"id\" ASC) AS \"_rn\" FROM \"post\" WHERE EXISTS (SELECT 1 FROM \"user\" AS \"_r1\" WHERE \"_r1\".\"id\" = \"post\".\"authorId\" AND \"_r1\".\"name\" = $1)) AS \"_d\" WHERE \"_rn\" = 1 ORDER BY \"id\" ASC OFFSET 1", []any{"a"}},
		"mysql":    {"SELECT `id` FROM (SELECT `id`, `title`, `published`, `authorId`, `score`, ROW_NUMBER() OVER (PARTITION BY `title` ORDER BY `id` ASC) AS `_rn` FROM `post` WHERE EXISTS (SELECT 1 FROM `user` AS `_r1` WHERE `_r1`.`id` = `post`.`authorId` AND `_r1`.`name` = ?)) AS `_d` WHERE `_rn` = 1 ORDER BY `id` ASC LIMIT 18446744073709551615 OFFSET 1", []any{"a"}},
	},
}

func TestRelFilterGolden(t *testing.T) {
	user, post := blogModel("user"), blogModel("post")
	cases := map[string]struct {
		md *schema.Model
		w  map[string]any
	}{
		"some":     {user, map[string]any{"posts": rel(query.OpSome, map[string]any{"published": true})}},
		"every":    {user, map[string]any{"posts": rel(query.OpEvery, map[string]any{"score": cond(query.OpGt, "1.5")})}},
		"none":     {user, map[string]any{"posts": rel(query.OpNone, nil)}},
		"is":       {post, map[string]any{"author": rel(query.OpIs, map[string]any{"name": "ada"})}},
		"isNil":    {post, map[string]any{"author": nil}},
		"isNotNil": {post, map[string]any{"author": rel(query.OpIsNot, nil)}},
		"inverse":  {user, map[string]any{"profile": rel(query.OpIs, nil)}},
		"m2m":      {post, map[string]any{"tags": rel(query.OpSome, map[string]any{"label": "go"})}},
		"nested":   {user, map[string]any{"posts": map[string]any{"some": map[string]any{"tags": map[string]any{"every": map[string]any{"label": "go"}}}}}},
	}
	for name, c := range cases {
		q := &query.Query{Where: relWhere(t, c.md, c.w), Sel: c.md.Fields[:1]}
		check(t, name, func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Select(d, c.md, q, false) }, relGolden[name])
	}
}

func TestPagedGolden(t *testing.T) {
	post := blogModel("post")
	f := func(n string) *schema.Field { return post.ByName[n] }
	cur := relWhere(t, post, map[string]any{"id": 7})
	cases := map[string]*query.Query{
		"cursor":   {Ext: &query.Ext{Cursor: cur}, Order: []query.Order{{F: f("score")}, {F: f("id")}}, Take: 2, HasTake: true, Sel: []*schema.Field{f("id")}},
		"back":     {Ext: &query.Ext{Back: true}, Order: []query.Order{{F: f("title"), Desc: true}, {F: f("id")}}, Take: 2, HasTake: true, Sel: []*schema.Field{f("id")}},
		"distinct": {Ext: &query.Ext{Distinct: []*schema.Field{f("title")}}, Where: relWhere(t, post, map[string]any{"author": map[string]any{"name": "a"}}), Order: []query.Order{{F: f("id")}}, Skip: 1, Sel: []*schema.Field{f("id")}},
	}
	for name, q := range cases {
		check(t, name, func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Select(d, post, q, false) }, relGolden[name])
	}
}
