package viborm_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/s"
)

// The relation filter blog (tables rf_*): a user has posts (the post holds
// a nullable authorId) and a profile (the profile holds userId); posts and
// tags are many-to-many.
var (
	rfUsers = viborm.Model[viborm.Row]("rfuser",
		s.Int("id").ID(), s.String("name"), s.Int("mentorId").Nullable(),
		s.OneToMany("posts", "rfpost"), s.OneToOne("profile", "rfprofile"),
		s.ManyToOne("mentor", "rfuser").Fields("mentorId").References("id"), s.OneToMany("mentees", "rfuser"),
		s.Table("rf_users"))
	rfPosts = viborm.Model[viborm.Row]("rfpost",
		s.Int("id").ID(), s.String("title"), s.Boolean("published"), s.Int("authorId").Nullable(), s.Int("score").Nullable(),
		s.ManyToOne("author", "rfuser").Fields("authorId").References("id"),
		s.ManyToMany("tags", "rftag"),
		s.Table("rf_posts"))
	rfProfiles = viborm.Model[viborm.Row]("rfprofile",
		s.Int("id").ID(), s.String("bio").Nullable(), s.Int("userId").Unique(),
		s.OneToOne("user", "rfuser").Fields("userId").References("id"),
		s.Table("rf_profiles"))
	rfTags = viborm.Model[viborm.Row]("rftag",
		s.Int("id").ID(), s.String("label"), s.ManyToMany("posts", "rfpost"),
		s.Table("rf_tags"))
	// rfItems pages: rank has ties, opt is nullable, code is unique.
	rfItems = viborm.Model[viborm.Row]("rfitem",
		s.Int("id").ID(), s.String("grp"), s.Int("rank"), s.String("code").Unique(), s.Int("opt").Nullable(),
		s.Table("rf_items"))
	rfModels = []viborm.AnyModel{rfUsers, rfPosts, rfProfiles, rfTags, rfItems}
)

// seedRF writes the blog:
//
//	users ada(1) bob(2) cy(3, mentor ada) dee(4, mentor cy); profiles: ada (bio "x"), bob (bio NULL)
//	posts 1 ada published score 5 tags go, db
//	      2 ada draft     score NULL
//	      3 bob published score 2 tags go
//	      4 no author, published score 1
func seedRF(t *testing.T, db *viborm.Client) {
	t.Helper()
	ctx := context.Background()
	for i, n := range []string{"ada", "bob", "cy", "dee"} {
		mentor := []any{nil, nil, 1, 3}[i]
		if _, err := rfUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"id": i + 1, "name": n, "mentorId": mentor}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []viborm.Data{
		{"id": 1, "title": "p1", "published": true, "authorId": 1, "score": 5},
		{"id": 2, "title": "p2", "published": false, "authorId": 1, "score": nil},
		{"id": 3, "title": "p3", "published": true, "authorId": 2, "score": 2},
		{"id": 4, "title": "p4", "published": true, "authorId": nil, "score": 1},
	} {
		if _, err := rfPosts.Create(ctx, db, viborm.Create{Data: p}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []viborm.Data{{"id": 1, "bio": "x", "userId": 1}, {"id": 2, "bio": nil, "userId": 2}} {
		if _, err := rfProfiles.Create(ctx, db, viborm.Create{Data: p}); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range []string{"go", "db", "rust"} {
		if _, err := rfTags.Create(ctx, db, viborm.Create{Data: viborm.Data{"id": i + 1, "label": l}}); err != nil {
			t.Fatal(err)
		}
	}
	// The junction rows, written with raw SQL so that these tests do not
	// depend on nested writes.
	q := func(id string) string {
		if db.Dialect() == "postgres" {
			return `"` + id + `"`
		}
		return "`" + id + "`"
	}
	for _, pt := range [][2]int{{1, 1}, {1, 2}, {3, 1}} {
		sql := fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (%d, %d)", q("rfpost_rftag"), q("rfpostId"), q("rftagId"), pt[0], pt[1])
		if _, err := db.ExecRaw(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
}

func rfNames(t *testing.T, rows []viborm.Row, err error, field string) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r[field]))
	}
	return strings.Join(out, ",")
}

func TestRelationFilters(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{Models: rfModels})
		seedRF(t, db)
		users := func(w viborm.Where) string {
			t.Helper()
			rows, err := rfUsers.FindMany(ctx, db, viborm.FindMany{Where: w, OrderBy: []viborm.Order{viborm.Asc("id")}})
			return rfNames(t, rows, err, "name")
		}
		posts := func(w viborm.Where) string {
			t.Helper()
			rows, err := rfPosts.FindMany(ctx, db, viborm.FindMany{Where: w, OrderBy: []viborm.Order{viborm.Asc("id")}})
			return rfNames(t, rows, err, "title")
		}
		for _, c := range []struct {
			name, got, want string
		}{
			{"some", users(viborm.Where{"posts": viborm.Some(viborm.Where{"published": true})}), "ada,bob"},
			{"some any", users(viborm.Where{"posts": viborm.Some(nil)}), "ada,bob"},
			{"every", users(viborm.Where{"posts": viborm.Every(viborm.Where{"published": true})}), "bob,cy,dee"},
			{"every with a NULL inner value fails", users(viborm.Where{"posts": viborm.Every(viborm.Where{"score": viborm.Gt(1)})}), "bob,cy,dee"},
			{"every empty", users(viborm.Where{"posts": viborm.Every(viborm.Where{})}), "ada,bob,cy,dee"},
			{"none", users(viborm.Where{"posts": viborm.None(viborm.Where{"published": true})}), "cy,dee"},
			{"none at all", users(viborm.Where{"posts": viborm.None(nil)}), "cy,dee"},
			{"map form", users(viborm.Where{"posts": viborm.Where{"some": viborm.Where{"published": false}}}), "ada"},
			{"is", posts(viborm.Where{"author": viborm.Is(viborm.Where{"name": "ada"})}), "p1,p2"},
			{"is shorthand", posts(viborm.Where{"author": viborm.Where{"name": "bob"}}), "p3"},
			{"isNot", posts(viborm.Where{"author": viborm.IsNot(viborm.Where{"name": "ada"})}), "p3,p4"},
			{"is nil", posts(viborm.Where{"author": viborm.Is(nil)}), "p4"},
			{"nil shorthand", posts(viborm.Where{"author": nil}), "p4"},
			{"isNot nil", posts(viborm.Where{"author": viborm.IsNot(nil)}), "p1,p2,p3"},
			{"is on the side without the key", users(viborm.Where{"profile": viborm.Is(viborm.Where{"bio": nil})}), "bob"},
			{"is nil without the key", users(viborm.Where{"profile": viborm.Is(nil)}), "cy,dee"},
			{"isNot nil without the key", users(viborm.Where{"profile": viborm.IsNot(nil)}), "ada,bob"},
			{"m2m some", posts(viborm.Where{"tags": viborm.Some(viborm.Where{"label": "go"})}), "p1,p3"},
			{"m2m none", posts(viborm.Where{"tags": viborm.None(nil)}), "p2,p4"},
			{"m2m every", posts(viborm.Where{"tags": viborm.Every(viborm.Where{"label": "go"})}), "p2,p3,p4"},
			{"m2m back", rfNamesOf(t, ctx, db, viborm.Where{"posts": viborm.Some(viborm.Where{"title": "p3"})}), "go"},
			{"nested some some", users(viborm.Where{"posts": viborm.Some(viborm.Where{"tags": viborm.Some(viborm.Where{"label": "db"})})}), "ada"},
			{"nested every some", users(viborm.Where{"posts": viborm.Every(viborm.Where{"tags": viborm.Some(viborm.Where{"label": "go"})})}), "bob,cy,dee"},
			{"nested is some", posts(viborm.Where{"author": viborm.Is(viborm.Where{"posts": viborm.Some(viborm.Where{"published": false})})}), "p1,p2"},
			{"self some", users(viborm.Where{"mentees": viborm.Some(nil)}), "ada,cy"},
			{"self is", users(viborm.Where{"mentor": viborm.Is(viborm.Where{"mentor": viborm.Is(viborm.Where{"name": "ada"})})}), "dee"},
			{"self every nested", users(viborm.Where{"mentees": viborm.Every(viborm.Where{"mentees": viborm.None(nil)})}), "bob,cy,dee"},
			{"with scalar and OR", users(viborm.Where{"name": viborm.Not("ada"), "OR": []viborm.Where{
				{"posts": viborm.Some(nil)}, {"profile": viborm.IsNot(nil)}}}), "bob"},
		} {
			if c.got != c.want {
				t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
			}
		}
		n, err := rfUsers.Count(ctx, db, viborm.Count{Where: viborm.Where{"posts": viborm.Some(nil)}})
		if err != nil || n != 2 {
			t.Fatalf("count: %d %v", n, err)
		}
		ok, err := rfPosts.Exist(ctx, db, viborm.Where{"tags": viborm.Some(viborm.Where{"label": "rust"})})
		if err != nil || ok {
			t.Fatalf("exist: %v %v", ok, err)
		}
		// Writes take relation filters in their where too.
		n, err = rfUsers.UpdateMany(ctx, db, viborm.UpdateMany{Where: viborm.Where{"posts": viborm.None(nil)}, Data: viborm.Data{"name": "idle"}})
		if err != nil || n != 2 {
			t.Fatalf("updateMany: %d %v", n, err)
		}
		n, err = rfPosts.DeleteMany(ctx, db, viborm.DeleteMany{Where: viborm.Where{"author": viborm.Is(viborm.Where{"name": "bob"})}})
		if err != nil || n != 1 {
			t.Fatalf("deleteMany: %d %v", n, err)
		}
		if got := users(viborm.Where{"name": "idle"}) + "/" + posts(nil); got != "idle,idle/p1,p2,p4" {
			t.Fatalf("after the writes: %s", got)
		}
		// A self-relation filter in an update reads the table it writes
		// (MariaDB allows it since 10.3.2).
		n, err = rfUsers.UpdateMany(ctx, db, viborm.UpdateMany{Where: viborm.Where{"mentees": viborm.Some(nil)}, Data: viborm.Data{"name": "boss"}})
		if err != nil || n != 2 {
			t.Fatalf("self-relation updateMany: %d %v", n, err)
		}
	})
}

func rfNamesOf(t *testing.T, ctx context.Context, db *viborm.Client, w viborm.Where) string {
	t.Helper()
	rows, err := rfTags.FindMany(ctx, db, viborm.FindMany{Where: w, OrderBy: []viborm.Order{viborm.Asc("id")}})
	return rfNames(t, rows, err, "label")
}

func TestRelationFilterErrorsNameThePath(t *testing.T) {
	db := newClient(t, "sqlite", viborm.Config{Models: rfModels})
	ctx := context.Background()
	for _, c := range []struct {
		m    viborm.AnyModel
		w    viborm.Where
		path string
	}{
		{rfUsers, viborm.Where{"posts": viborm.Is(viborm.Where{})}, "where.posts.is"},
		{rfPosts, viborm.Where{"author": viborm.Some(viborm.Where{})}, "where.author.some"},
		{rfPosts, viborm.Where{"title": viborm.Some(viborm.Where{})}, "where.title"},
		{rfUsers, viborm.Where{"posts": "x"}, "where.posts"},
		{rfUsers, viborm.Where{"posts": viborm.Where{"title": "p1"}}, "where.posts"},
		{rfUsers, viborm.Where{"posts": viborm.Some(viborm.Where{"nope": 1})}, "where.posts.some.nope"},
		{rfUsers, viborm.Where{"posts": viborm.Some(viborm.Where{"tags": viborm.Is(nil)})}, "where.posts.some.tags.is"},
	} {
		var err error
		switch m := c.m.(type) {
		case *viborm.ModelDef[viborm.Row]:
			_, err = m.FindMany(ctx, db, viborm.FindMany{Where: c.w})
		}
		var ve *viborm.Error
		if !errors.Is(err, viborm.ErrValidation) || !errors.As(err, &ve) || ve.Field != c.path {
			t.Errorf("%v: got %v (field %q), want ErrValidation at %s", c.w, err, rfFieldOf(ve), c.path)
		}
	}
	// Relation filters count towards MaxWhereDepth: user → posts → author →
	// posts … one level each.
	deep := viborm.Where{"name": "x"}
	for i := 0; i < viborm.MaxWhereDepth; i++ {
		if i%2 == 0 {
			deep = viborm.Where{"author": viborm.Is(deep)}
		} else {
			deep = viborm.Where{"posts": viborm.Some(deep)}
		}
	}
	if _, err := rfUsers.FindMany(ctx, db, viborm.FindMany{Where: deep}); !errors.Is(err, viborm.ErrValidation) || !strings.Contains(err.Error(), "MaxWhereDepth") {
		t.Fatalf("deep: %v", err)
	}
}

func rfFieldOf(e *viborm.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

// seedItems writes ten items: rank 1,1,2,2,2,3,3,4,5,5 (ties), grp a/b/c,
// opt nullable.
func seedItems(t *testing.T, db *viborm.Client) {
	t.Helper()
	ranks := []int{1, 1, 2, 2, 2, 3, 3, 4, 5, 5}
	grps := []string{"a", "b", "a", "c", "b", "a", "c", "b", "a", "c"}
	opts := []any{nil, 3, nil, 1, 2, 3, nil, 1, 2, nil}
	for i := range ranks {
		if _, err := rfItems.Create(context.Background(), db, viborm.Create{Data: viborm.Data{
			"id": i + 1, "grp": grps[i], "rank": ranks[i], "code": fmt.Sprintf("c%d", i+1), "opt": opts[i]}}); err != nil {
			t.Fatal(err)
		}
	}
}

// itemsClient returns a client on dialect with the ten items of seedItems,
// and ids, the ids of the items a findMany reads, in order ("4,5,6").
func itemsClient(t *testing.T, dialect string) (db *viborm.Client, ids func(viborm.FindMany) string) {
	t.Helper()
	db = newClient(t, dialect, viborm.Config{Models: rfModels})
	seedItems(t, db)
	return db, func(a viborm.FindMany) string {
		t.Helper()
		rows, err := rfItems.FindMany(context.Background(), db, a)
		return rfNames(t, rows, err, "id")
	}
}

// idsCase is a findMany and the ids it must read.
type idsCase struct {
	name string
	a    viborm.FindMany
	want string
}

// checkIDs checks that each case's findMany reads the ids it wants.
func checkIDs(t *testing.T, ids func(viborm.FindMany) string, cases []idsCase) {
	t.Helper()
	for _, c := range cases {
		if got := ids(c.a); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestCursorPagination(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db, ids := itemsClient(t, dialect)
		byRank := []viborm.Order{viborm.Asc("rank")}
		checkIDs(t, ids, []idsCase{
			{"forward with ties", viborm.FindMany{OrderBy: byRank, Cursor: viborm.Where{"id": 4}, Take: ptr(3)}, "4,5,6"},
			{"skip the cursor", viborm.FindMany{OrderBy: byRank, Cursor: viborm.Where{"id": 4}, Take: ptr(3), Skip: 1}, "5,6,7"},
			{"cursor on another unique", viborm.FindMany{OrderBy: byRank, Cursor: viborm.Where{"code": "c4"}, Take: ptr(3)}, "4,5,6"},
			{"back to the cursor", viborm.FindMany{OrderBy: byRank, Cursor: viborm.Where{"id": 6}, Take: ptr(-3)}, "4,5,6"},
			{"back before the cursor", viborm.FindMany{OrderBy: byRank, Cursor: viborm.Where{"id": 6}, Take: ptr(-3), Skip: 1}, "3,4,5"},
			{"last rows", viborm.FindMany{OrderBy: byRank, Take: ptr(-3)}, "8,9,10"},
			{"last rows by id", viborm.FindMany{Take: ptr(-2)}, "9,10"},
			{"desc with ties", viborm.FindMany{OrderBy: []viborm.Order{viborm.Desc("rank")}, Cursor: viborm.Where{"id": 5}, Take: ptr(3)}, "5,1,2"},
			{"desc back", viborm.FindMany{OrderBy: []viborm.Order{viborm.Desc("rank")}, Cursor: viborm.Where{"id": 5}, Take: ptr(-3)}, "3,4,5"},
			{"to the end", viborm.FindMany{OrderBy: byRank, Cursor: viborm.Where{"id": 9}}, "9,10"},
			{"cursor matching nothing", viborm.FindMany{OrderBy: byRank, Cursor: viborm.Where{"id": 99}, Take: ptr(3)}, ""},
			{"cursor and where", viborm.FindMany{Where: viborm.Where{"grp": "a"}, OrderBy: byRank, Cursor: viborm.Where{"id": 3}}, "3,6,9"},
		})
		first, err := rfItems.FindFirst(ctx, db, viborm.FindMany{OrderBy: byRank, Take: ptr(-1)})
		if err != nil || first == nil || fmt.Sprint((*first)["id"]) != "10" {
			t.Fatalf("findFirst take -1: %v %v", first, err)
		}
		// Paging through a nullable order column, forward and back, gives
		// the order of the whole list, with NULLs where the dialect puts
		// them.
		for _, ord := range [][]viborm.Order{
			{viborm.Asc("opt")}, {viborm.Desc("opt")}, {viborm.Asc("opt").NullsFirst()}, {viborm.Asc("opt").NullsLast()},
			{viborm.Desc("opt").NullsLast(), viborm.Desc("rank")},
		} {
			all := ids(viborm.FindMany{OrderBy: append(ord, viborm.Asc("id"))})
			// The first page has no cursor: its order needs the tiebreak
			// that a cursor adds by itself.
			var fwd []string
			var lastID any
			cur := viborm.Where{}
			for len(fwd) < 20 {
				a := viborm.FindMany{OrderBy: append(ord, viborm.Asc("id")), Take: ptr(3)}
				if len(fwd) > 0 {
					a = viborm.FindMany{OrderBy: ord, Cursor: cur, Take: ptr(3), Skip: 1}
				}
				rows, err := rfItems.FindMany(ctx, db, a)
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) == 0 {
					break
				}
				for _, r := range rows {
					fwd = append(fwd, fmt.Sprint(r["id"]))
				}
				lastID = rows[len(rows)-1]["id"]
				cur = viborm.Where{"id": lastID}
			}
			if got := strings.Join(fwd, ","); got != all {
				t.Errorf("forward pages by %v: %s, want %s", ord, got, all)
			}
			var back []string
			cur = viborm.Where{"id": lastID}
			for skip := 0; len(back) < 20; skip = 1 {
				rows, err := rfItems.FindMany(ctx, db, viborm.FindMany{OrderBy: ord, Cursor: cur, Take: ptr(-3), Skip: skip})
				if err != nil {
					t.Fatal(err)
				}
				if len(rows) == 0 {
					break
				}
				var page []string
				for _, r := range rows {
					page = append(page, fmt.Sprint(r["id"]))
				}
				back = append(page, back...)
				cur = viborm.Where{"id": rows[0]["id"]}
			}
			if got := strings.Join(back, ","); got != all {
				t.Errorf("backward pages by %v: %s, want %s", ord, got, all)
			}
		}
		_, err = rfItems.FindMany(ctx, db, viborm.FindMany{OrderBy: byRank, Cursor: viborm.Where{"rank": 2}})
		var ve *viborm.Error
		if !errors.Is(err, viborm.ErrValidation) || !errors.As(err, &ve) || ve.Field != "cursor" {
			t.Fatalf("cursor on a non-unique field: %v", err)
		}
	})
}

func TestDistinct(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db, ids := itemsClient(t, dialect)
		checkIDs(t, ids, []idsCase{
			{"without orderBy", viborm.FindMany{Distinct: []string{"grp"}}, "1,2,4"},
			{"with orderBy", viborm.FindMany{Distinct: []string{"grp"}, OrderBy: []viborm.Order{viborm.Desc("rank")}}, "9,10,8"},
			{"two fields", viborm.FindMany{Distinct: []string{"rank", "grp"}, Where: viborm.Where{"rank": viborm.Lte(2)}}, "1,2,3,4,5"},
			{"paged", viborm.FindMany{Distinct: []string{"grp"}, OrderBy: []viborm.Order{viborm.Desc("rank")}, Take: ptr(1), Skip: 1}, "10"},
			{"back", viborm.FindMany{Distinct: []string{"grp"}, Take: ptr(-2)}, "2,4"},
			{"cursor", viborm.FindMany{Distinct: []string{"grp"}, Cursor: viborm.Where{"id": 2}}, "2,4"},
			{"with where", viborm.FindMany{Distinct: []string{"rank"}, Where: viborm.Where{"opt": nil}}, "1,3,7,10"},
		})
		if _, err := rfItems.FindMany(ctx, db, viborm.FindMany{Distinct: []string{"nope"}}); !errors.Is(err, viborm.ErrValidation) {
			t.Fatalf("unknown distinct field: %v", err)
		}
	})
}

func TestRelationFilterCursorDistinctKeys(t *testing.T) {
	env := newCacheEnv(t, "sqlite", "memory", viborm.Config{Models: rfModels})
	cached := env.db.WithCache(viborm.CacheOptions{})
	key := func(m *viborm.ModelDef[viborm.Row], a viborm.FindMany) string {
		t.Helper()
		k, err := m.CacheKey(cached, viborm.OpFindMany, a)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	pub := viborm.Where{"published": true}
	shapes := []viborm.FindMany{
		{},
		{Where: viborm.Where{"posts": viborm.Some(pub)}},
		{Where: viborm.Where{"posts": viborm.Every(pub)}},
		{Where: viborm.Where{"posts": viborm.None(pub)}},
		{Where: viborm.Where{"posts": viborm.Some(nil)}},
		{Where: viborm.Where{"posts": viborm.Some(viborm.Where{"published": false})}},
		{Where: viborm.Where{"profile": viborm.Is(nil)}},
		{Where: viborm.Where{"profile": viborm.IsNot(nil)}},
		{Where: viborm.Where{"profile": viborm.Is(viborm.Where{})}},
		{Where: viborm.Where{"profile": viborm.IsNot(viborm.Where{})}},
		{Cursor: viborm.Where{"id": 1}},
		{Cursor: viborm.Where{"id": 2}},
		{Take: ptr(3)},
		{Take: ptr(-3)},
		{Distinct: []string{"name"}},
		{Distinct: []string{"id"}},
	}
	seen := map[string]int{}
	for i, a := range shapes {
		k := key(rfUsers, a)
		if j, dup := seen[k]; dup {
			t.Errorf("shapes %d and %d share key %s", j, i, k)
		}
		seen[k] = i
	}
	// The map form and the constructors mean the same filter: one key.
	same := [][2]viborm.FindMany{
		{{Where: viborm.Where{"posts": viborm.Some(pub)}}, {Where: viborm.Where{"posts": viborm.Where{"some": pub}}}},
		{{Where: viborm.Where{"profile": viborm.Is(nil)}}, {Where: viborm.Where{"profile": nil}}},
		{{Where: viborm.Where{"profile": viborm.Is(viborm.Where{"bio": "x"})}}, {Where: viborm.Where{"profile": viborm.Where{"bio": "x"}}}},
		{{Distinct: []string{"name", "id"}}, {Distinct: []string{"id", "name", "id"}}},
	}
	for i, p := range same {
		if a, b := key(rfUsers, p[0]), key(rfUsers, p[1]); a != b {
			t.Errorf("pair %d: %s != %s", i, a, b)
		}
	}
}

// TestCachedRelationFilterCursorDistinctReads checks that cached reads
// with a relation filter, a cursor, a negative take and distinct are hits
// the second time, equal to the database's answer.
func TestCachedRelationFilterCursorDistinctReads(t *testing.T) {
	ctx := context.Background()
	env := newCacheEnv(t, "sqlite", "memory", viborm.Config{Models: rfModels})
	seedRF(t, env.db)
	seedItems(t, env.db)
	cached := env.db.WithCache(viborm.CacheOptions{})
	for _, c := range []struct {
		m *viborm.ModelDef[viborm.Row]
		a viborm.FindMany
	}{
		{rfUsers, viborm.FindMany{Where: viborm.Where{"posts": viborm.Every(viborm.Where{"published": true})}, OrderBy: []viborm.Order{viborm.Asc("id")}}},
		{rfItems, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("rank")}, Cursor: viborm.Where{"id": 6}, Take: ptr(-3)}},
		{rfItems, viborm.FindMany{Distinct: []string{"grp"}, OrderBy: []viborm.Order{viborm.Desc("rank")}}},
	} {
		want, err := c.m.FindMany(ctx, env.db, c.a)
		if err != nil {
			t.Fatal(err)
		}
		env.rec.take()
		for i := range 2 {
			got, err := c.m.FindMany(ctx, cached, c.a)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("read %d: %v, want %v", i, got, want)
			}
		}
		if out := strings.Join(env.rec.take(), ","); out != "miss,hit" {
			t.Fatalf("outcomes %s", out)
		}
	}
}
