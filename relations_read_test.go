package viborm_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/s"
)

// The blog of the include tests: users with posts (1:N) and a profile
// (1:1), posts with an author (N:1, nullable), comments (1:N) and tags
// (M:N).

type RUser struct {
	ID      int64
	Name    string
	Posts   []RPost
	Profile *RProfile
	Count   struct{ Posts int64 } `viborm:"_count"`
}

type RPost struct {
	ID       int64
	Title    string
	AuthorID *int64 `viborm:"authorId"`
	Rank     int
	Author   *RUser
	Comments []RComment
	Tags     []RTag
	Count    struct {
		Comments int64
		Tags     int64
	} `viborm:"_count"`
}

type RComment struct {
	ID     int64
	PostID int64 `viborm:"postId"`
	Body   string
	Post   *RPost
}

type RTag struct {
	ID    int64
	Name  string
	Posts []RPost
}

type RProfile struct {
	ID     int64
	UserID int64 `viborm:"userId"`
	Bio    string
}

var (
	RUsers = viborm.Model[RUser]("ruser",
		s.BigInt("id").ID().Autoincrement(),
		s.String("name"),
		s.OneToMany("posts", "rpost"),
		s.OneToOne("profile", "rprofile"),
		s.Table("r_users"))
	RPosts = viborm.Model[RPost]("rpost",
		s.BigInt("id").ID().Autoincrement(),
		s.String("title"),
		s.BigInt("authorId").Nullable(),
		s.Int("rank").Default(0),
		s.ManyToOne("author", "ruser").Fields("authorId").References("id").OnDelete(s.SetNull),
		s.OneToMany("comments", "rcomment"),
		s.ManyToMany("tags", "rtag"),
		s.Table("r_posts"))
	RComments = viborm.Model[RComment]("rcomment",
		s.BigInt("id").ID().Autoincrement(),
		s.BigInt("postId"),
		s.String("body"),
		s.ManyToOne("post", "rpost").Fields("postId").References("id").OnDelete(s.Cascade),
		s.Table("r_comments"))
	RTags = viborm.Model[RTag]("rtag",
		s.BigInt("id").ID().Autoincrement(),
		s.String("name"),
		s.ManyToMany("posts", "rpost"),
		s.Table("r_tags"))
	RProfiles = viborm.Model[RProfile]("rprofile",
		s.BigInt("id").ID().Autoincrement(),
		s.BigInt("userId").Unique(),
		s.String("bio"),
		s.OneToOne("user", "ruser").Fields("userId").References("id").OnDelete(s.Cascade),
		s.Table("r_profiles"))
	relModels = []viborm.AnyModel{RUsers, RPosts, RComments, RTags, RProfiles}

	// The same blog as Rows.
	XUsers = viborm.Model[viborm.Row]("xuser",
		s.BigInt("id").ID().Autoincrement(),
		s.String("name"),
		s.OneToMany("posts", "xpost"),
		s.Table("x_users"))
	XPosts = viborm.Model[viborm.Row]("xpost",
		s.BigInt("id").ID().Autoincrement(),
		s.String("title"),
		s.BigInt("authorId").Nullable(),
		s.ManyToOne("author", "xuser").Fields("authorId").References("id"),
		s.Table("x_posts"))
)

// stmtCounter is a Hook counting the statements of model operations.
type stmtCounter struct {
	n   atomic.Int64
	mu  sync.Mutex
	sql []string
}

func (c *stmtCounter) BeforeOperation(ctx context.Context, _ *viborm.OperationEvent) context.Context {
	return ctx
}
func (c *stmtCounter) AfterOperation(context.Context, *viborm.OperationEvent) {}
func (c *stmtCounter) BeforeQuery(ctx context.Context, _ *viborm.QueryEvent) context.Context {
	return ctx
}
func (c *stmtCounter) AfterQuery(_ context.Context, e *viborm.QueryEvent) {
	if e.Operation == "" {
		return
	}
	c.n.Add(1)
	c.mu.Lock()
	c.sql = append(c.sql, e.Query)
	c.mu.Unlock()
}

func (c *stmtCounter) reset() int64 {
	c.mu.Lock()
	c.sql = nil
	c.mu.Unlock()
	return c.n.Swap(0)
}

type blog struct {
	users    []RUser // u0: 5 posts, u1: 1 post, u2: none
	posts    []RPost // p[0..4] by u0 ranks 0..4, p5 by u1, p6 with no author
	tags     []RTag
	comments []RComment
}

func quoteIdent(dialect, s string) string {
	if dialect == "postgres" {
		return `"` + s + `"`
	}
	return "`" + s + "`"
}

// seedBlog writes the blog; the post↔tag links go through raw SQL so that
// the include tests do not depend on nested writes.
func seedBlog(t *testing.T, db *viborm.Client, dialect string) blog {
	t.Helper()
	ctx := context.Background()
	var b blog
	for _, n := range []string{"ann", "bob", "cat"} {
		u, err := RUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"name": n}})
		if err != nil {
			t.Fatal(err)
		}
		b.users = append(b.users, u)
	}
	mk := func(title string, author *int64, rank int) {
		d := viborm.Data{"title": title, "rank": rank}
		if author != nil {
			d["authorId"] = *author
		}
		p, err := RPosts.Create(ctx, db, viborm.Create{Data: d})
		if err != nil {
			t.Fatal(err)
		}
		b.posts = append(b.posts, p)
	}
	for i := range 5 {
		mk(fmt.Sprintf("a%d", i), &b.users[0].ID, i)
	}
	mk("b0", &b.users[1].ID, 0)
	mk("orphan", nil, 0)
	for _, n := range []string{"go", "sql"} {
		tg, err := RTags.Create(ctx, db, viborm.Create{Data: viborm.Data{"name": n}})
		if err != nil {
			t.Fatal(err)
		}
		b.tags = append(b.tags, tg)
	}
	for i, p := range b.posts[:3] {
		for j := range 3 {
			c, err := RComments.Create(ctx, db, viborm.Create{Data: viborm.Data{"postId": p.ID, "body": fmt.Sprintf("c%d.%d", i, j)}})
			if err != nil {
				t.Fatal(err)
			}
			b.comments = append(b.comments, c)
		}
	}
	if _, err := RProfiles.Create(ctx, db, viborm.Create{Data: viborm.Data{"userId": b.users[0].ID, "bio": "hi"}}); err != nil {
		t.Fatal(err)
	}
	// post 0: go, sql; post 1: sql; post 5: go.
	link := func(post, tag int64) {
		q := fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (%d, %d)", quoteIdent(dialect, "rpost_rtag"),
			quoteIdent(dialect, "rpostId"), quoteIdent(dialect, "rtagId"), post, tag)
		if _, err := db.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	link(b.posts[0].ID, b.tags[0].ID)
	link(b.posts[0].ID, b.tags[1].ID)
	link(b.posts[1].ID, b.tags[1].ID)
	link(b.posts[5].ID, b.tags[0].ID)
	return b
}

func newRelClient(t *testing.T, dialect string, cfg viborm.Config) (*viborm.Client, blog) {
	t.Helper()
	if cfg.Models == nil {
		cfg.Models = relModels
	}
	db := newClient(t, dialect, cfg)
	return db, seedBlog(t, db, dialect)
}

func titles(ps []RPost) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Title
	}
	return out
}

func TestIncludeNestedTwoLevels(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db, b := newRelClient(t, dialect, viborm.Config{})
		us, err := RUsers.FindMany(ctx, db, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")}, Include: viborm.Include{
			"posts": {OrderBy: []viborm.Order{viborm.Asc("rank")}, Include: viborm.Include{
				"comments": {OrderBy: []viborm.Order{viborm.Desc("body")}},
				"tags":     {OrderBy: []viborm.Order{viborm.Asc("name")}},
			}},
			"profile": {},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if len(us) != 3 {
			t.Fatalf("users: %d", len(us))
		}
		if got := titles(us[0].Posts); !reflect.DeepEqual(got, []string{"a0", "a1", "a2", "a3", "a4"}) {
			t.Fatalf("ann's posts: %v", got)
		}
		if got := titles(us[1].Posts); !reflect.DeepEqual(got, []string{"b0"}) {
			t.Fatalf("bob's posts: %v", got)
		}
		if us[2].Posts == nil || len(us[2].Posts) != 0 {
			t.Fatalf("cat's posts: want a non-nil empty slice, got %#v", us[2].Posts)
		}
		p0 := us[0].Posts[0]
		if len(p0.Comments) != 3 || p0.Comments[0].Body != "c0.2" || p0.Comments[2].Body != "c0.0" {
			t.Fatalf("comments of a0: %+v", p0.Comments)
		}
		if len(p0.Tags) != 2 || p0.Tags[0].Name != "go" || p0.Tags[1].Name != "sql" {
			t.Fatalf("tags of a0: %+v", p0.Tags)
		}
		if got := us[0].Posts[1].Tags; len(got) != 1 || got[0].Name != "sql" {
			t.Fatalf("tags of a1: %+v", got)
		}
		if got := us[0].Posts[4]; got.Comments == nil || len(got.Comments) != 0 || got.Tags == nil || len(got.Tags) != 0 {
			t.Fatalf("a4 has no comments and no tags, loaded: %+v", got)
		}
		if us[1].Posts[0].Tags[0].Name != "go" {
			t.Fatalf("tags of b0: %+v", us[1].Posts[0].Tags)
		}
		if us[0].Profile == nil || us[0].Profile.Bio != "hi" || us[1].Profile != nil {
			t.Fatalf("profiles: %+v %+v", us[0].Profile, us[1].Profile)
		}
		// The inverse many-to-many side.
		tags, err := RTags.FindMany(ctx, db, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("name")},
			Include: viborm.Include{"posts": {OrderBy: []viborm.Order{viborm.Desc("title")}}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := titles(tags[0].Posts); !reflect.DeepEqual(got, []string{"b0", "a0"}) {
			t.Fatalf("posts tagged go: %v", got)
		}
		_ = b
	})
}

func TestIncludeToOneAndNullForeignKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db, b := newRelClient(t, dialect, viborm.Config{})
		ps, err := RPosts.FindMany(ctx, db, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")},
			Include: viborm.Include{"author": {Include: viborm.Include{"posts": {Take: ptr(1), OrderBy: []viborm.Order{viborm.Desc("rank")}}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 7 {
			t.Fatalf("posts: %d", len(ps))
		}
		for i, p := range ps[:5] {
			if p.Author == nil || p.Author.ID != b.users[0].ID || p.Author.Name != "ann" {
				t.Fatalf("post %d: author %+v", i, p.Author)
			}
			if got := titles(p.Author.Posts); !reflect.DeepEqual(got, []string{"a4"}) {
				t.Fatalf("post %d: author's last post %v", i, got)
			}
		}
		if ps[0].Author == ps[1].Author {
			t.Fatal("two posts share one *RUser")
		}
		ps[0].Author.Posts[0].Title = "changed"
		if ps[1].Author.Posts[0].Title != "a4" {
			t.Fatal("two posts share the author's posts")
		}
		if ps[6].Author != nil || ps[6].AuthorID != nil {
			t.Fatalf("the orphan post has an author: %+v", ps[6].Author)
		}
		// FindUnique and the OrErr forms include too.
		one, err := RPosts.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"id": b.posts[5].ID}, Include: viborm.Include{"author": {}}})
		if err != nil || one.Author == nil || one.Author.Name != "bob" {
			t.Fatalf("findUniqueOrThrow: %+v, %v", one, err)
		}
		first, err := RUsers.FindFirst(ctx, db, viborm.FindMany{Where: viborm.Where{"name": "cat"}, Include: viborm.Include{"posts": {}, "profile": {}}})
		if err != nil || first == nil || first.Posts == nil || len(first.Posts) != 0 || first.Profile != nil {
			t.Fatalf("findFirst: %+v, %v", first, err)
		}
		if _, err := RUsers.FindFirstOrErr(ctx, db, viborm.FindMany{Where: viborm.Where{"name": "nobody"}, Include: viborm.Include{"posts": {}}}); !errors.Is(err, viborm.ErrNotFound) {
			t.Fatalf("findFirstOrThrow of nothing: %v", err)
		}
	})
}

func TestIncludePerParentTakeSkip(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db, _ := newRelClient(t, dialect, viborm.Config{})
		us, err := RUsers.FindMany(ctx, db, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")}, Include: viborm.Include{
			"posts": {OrderBy: []viborm.Order{viborm.Desc("rank")}, Take: ptr(2), Skip: 1, Where: viborm.Where{"title": viborm.Not("a3")}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		// ann: a4 a2 a1 a0 → skip 1, take 2 → a2 a1; bob: b0 → skip 1 → none.
		if got := titles(us[0].Posts); !reflect.DeepEqual(got, []string{"a2", "a1"}) {
			t.Fatalf("ann: %v", got)
		}
		if us[1].Posts == nil || len(us[1].Posts) != 0 {
			t.Fatalf("bob: %v", us[1].Posts)
		}
		// Take alone: each parent gets its own first rows, not the first rows overall.
		us, err = RUsers.FindMany(ctx, db, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")},
			Include: viborm.Include{"posts": {OrderBy: []viborm.Order{viborm.Asc("rank")}, Take: ptr(1)}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := [][]string{titles(us[0].Posts), titles(us[1].Posts)}; !reflect.DeepEqual(got, [][]string{{"a0"}, {"b0"}}) {
			t.Fatalf("take 1 per user: %v", got)
		}
		// Per-parent take on a many-to-many include.
		ps, err := RPosts.FindMany(ctx, db, viborm.FindMany{Where: viborm.Where{"title": viborm.In("a0", "a1")}, OrderBy: []viborm.Order{viborm.Asc("title")},
			Include: viborm.Include{"tags": {OrderBy: []viborm.Order{viborm.Desc("name")}, Take: ptr(1)}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ps[0].Tags) != 1 || ps[0].Tags[0].Name != "sql" || len(ps[1].Tags) != 1 || ps[1].Tags[0].Name != "sql" {
			t.Fatalf("m2m take: %+v / %+v", ps[0].Tags, ps[1].Tags)
		}
	})
}

func TestRelationCount(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db, _ := newRelClient(t, dialect, viborm.Config{})
		us, err := RUsers.FindMany(ctx, db, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")}, Select: []string{"name"},
			Count: viborm.CountRel{"posts": nil}})
		if err != nil {
			t.Fatal(err)
		}
		if got := []int64{us[0].Count.Posts, us[1].Count.Posts, us[2].Count.Posts}; !reflect.DeepEqual(got, []int64{5, 1, 0}) {
			t.Fatalf("post counts: %v", got)
		}
		us, err = RUsers.FindMany(ctx, db, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")},
			Count:   viborm.CountRel{"posts": {"rank": viborm.Gte(3)}},
			Include: viborm.Include{"posts": {Take: ptr(1), Count: viborm.CountRel{"comments": nil, "tags": nil}}}})
		if err != nil {
			t.Fatal(err)
		}
		if us[0].Count.Posts != 2 || us[1].Count.Posts != 0 {
			t.Fatalf("filtered counts: %d %d", us[0].Count.Posts, us[1].Count.Posts)
		}
		p := us[0].Posts[0]
		if p.Title != "a0" || p.Count.Comments != 3 || p.Count.Tags != 2 {
			t.Fatalf("nested counts: %+v", p)
		}
	})
}

func TestIncludeRowModels(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{Models: []viborm.AnyModel{XUsers, XPosts}})
		u, err := XUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"name": "ann"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := XUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"name": "bob"}}); err != nil {
			t.Fatal(err)
		}
		for _, d := range []viborm.Data{{"title": "x", "authorId": u["id"]}, {"title": "y", "authorId": u["id"]}, {"title": "z"}} {
			if _, err := XPosts.Create(ctx, db, viborm.Create{Data: d}); err != nil {
				t.Fatal(err)
			}
		}
		us, err := XUsers.FindMany(ctx, db, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")}, Select: []string{"name"},
			Include: viborm.Include{"posts": {Select: []string{"title"}, OrderBy: []viborm.Order{viborm.Desc("title")}}}, Count: viborm.CountRel{"posts": nil}})
		if err != nil {
			t.Fatal(err)
		}
		ps, ok := us[0]["posts"].([]viborm.Row)
		if !ok || len(ps) != 2 || ps[0]["title"] != "y" {
			t.Fatalf("ann's posts: %#v", us[0]["posts"])
		}
		if ps, ok := us[1]["posts"].([]viborm.Row); !ok || ps == nil || len(ps) != 0 {
			t.Fatalf("bob's posts: %#v", us[1]["posts"])
		}
		if c, _ := us[0]["_count"].(viborm.Row); c["posts"] != int64(2) {
			t.Fatalf("ann's _count: %#v", us[0]["_count"])
		}
		posts, err := XPosts.FindMany(ctx, db, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("title")}, Include: viborm.Include{"author": {}}})
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := posts[0]["author"].(viborm.Row); !ok || a["name"] != "ann" {
			t.Fatalf("x's author: %#v", posts[0]["author"])
		}
		if v, ok := posts[2]["author"]; !ok || v != nil {
			t.Fatalf("z's author: %#v (present %v)", v, ok)
		}
	})
}

// TestIncludeStatementCount guards the batched strategy: a read runs one
// statement per relation level, never one per parent row.
func TestIncludeStatementCount(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		cnt := &stmtCounter{}
		db, _ := newRelClient(t, dialect, viborm.Config{Hooks: []viborm.Hook{cnt}})
		cnt.reset()
		for _, c := range []struct {
			name string
			run  func() error
			want int64
		}{
			{"users+posts", func() error {
				_, err := RUsers.FindMany(ctx, db, viborm.FindMany{Include: viborm.Include{"posts": {}}})
				return err
			}, 2},
			{"posts+author", func() error {
				_, err := RPosts.FindMany(ctx, db, viborm.FindMany{Include: viborm.Include{"author": {}}})
				return err
			}, 2},
			{"users+posts(take)+comments", func() error {
				_, err := RUsers.FindMany(ctx, db, viborm.FindMany{Include: viborm.Include{"posts": {Take: ptr(2), Include: viborm.Include{"comments": {}}}}})
				return err
			}, 3},
			{"posts+tags (junction, then targets)", func() error {
				_, err := RPosts.FindMany(ctx, db, viborm.FindMany{Include: viborm.Include{"tags": {}}})
				return err
			}, 3},
			{"users+_count", func() error {
				_, err := RUsers.FindMany(ctx, db, viborm.FindMany{Count: viborm.CountRel{"posts": nil}})
				return err
			}, 2},
		} {
			if err := c.run(); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			cnt.mu.Lock()
			sqls := strings.Join(cnt.sql, "\n")
			cnt.mu.Unlock()
			if got := cnt.reset(); got != c.want {
				t.Fatalf("%s: %d statements, want %d:\n%s", c.name, got, c.want, sqls)
			}
		}
	})
}

func TestIncludeErrors(t *testing.T) {
	ctx := context.Background()
	db := newClient(t, "sqlite", viborm.Config{Models: relModels})
	deep := viborm.Include{"posts": {}}
	for range viborm.MaxIncludeDepth {
		deep = viborm.Include{"posts": {Include: viborm.Include{"author": {Include: deep}}}}
	}
	for _, c := range []struct {
		name string
		inc  viborm.Include
		cnt  viborm.CountRel
		path string
	}{
		{"unknown relation", viborm.Include{"posts": {Include: viborm.Include{"nope": {}}}}, nil, "include.posts.include.nope"},
		{"scalar", viborm.Include{"name": {}}, nil, "include.name"},
		{"take on to-one", viborm.Include{"profile": {Take: ptr(1)}}, nil, "include.profile"},
		{"bad where", viborm.Include{"posts": {Where: viborm.Where{"nope": 1}}}, nil, "include.posts.where.nope"},
		{"bad select", viborm.Include{"posts": {Select: []string{"nope"}}}, nil, "include.posts.select"},
		{"too deep", deep, nil, "include.posts.include.author"},
		{"count to-one", nil, viborm.CountRel{"profile": nil}, "include._count.profile"},
		{"count unknown", nil, viborm.CountRel{"nope": nil}, "include._count.nope"},
	} {
		_, err := RUsers.FindMany(ctx, db, viborm.FindMany{Include: c.inc, Count: c.cnt})
		var e *viborm.Error
		if !errors.Is(err, viborm.ErrValidation) || !errors.As(err, &e) || !strings.HasPrefix(e.Field, c.path) {
			t.Errorf("%s: %v (field %q), want ErrValidation at %s", c.name, err, fieldOf(err), c.path)
		}
	}
}

func fieldOf(err error) string {
	var e *viborm.Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

type badUser struct {
	ID    int64
	Posts []RUser // not the target's type
}

type badCount struct {
	ID    int64
	Count struct{ Nope int64 } `viborm:"_count"`
}

func TestIncludeBindingErrors(t *testing.T) {
	post := viborm.Model[RPost]("rpost",
		s.BigInt("id").ID().Autoincrement(), s.String("title"), s.BigInt("authorId").Nullable(), s.Int("rank"),
		s.ManyToOne("author", "ruser").Fields("authorId").References("id"), s.Table("r_posts"))
	for _, c := range []struct {
		name string
		m    viborm.AnyModel
	}{
		{"slice of the wrong type", viborm.Model[badUser]("ruser", s.BigInt("id").ID(), s.OneToMany("posts", "rpost"))},
		{"count of no relation", viborm.Model[badCount]("ruser", s.BigInt("id").ID(), s.OneToMany("posts", "rpost"))},
	} {
		_, err := viborm.NewClient(viborm.Config{Driver: openDriver(t, "sqlite"), Models: []viborm.AnyModel{c.m, post}})
		if !errors.Is(err, viborm.ErrSchema) {
			t.Errorf("%s: %v, want ErrSchema", c.name, err)
		}
	}
	// A struct without a relation field is fine; including into it is not.
	type plain struct {
		ID   int64
		Name string
	}
	type plainPost struct {
		ID       int64
		Title    string
		AuthorID *int64 `viborm:"authorId"`
		Rank     int
	}
	pu := viborm.Model[plain]("ruser", s.BigInt("id").ID().Autoincrement(), s.String("name"), s.OneToMany("posts", "rpost"), s.Table("r_users"))
	pp := viborm.Model[plainPost]("rpost",
		s.BigInt("id").ID().Autoincrement(), s.String("title"), s.BigInt("authorId").Nullable(), s.Int("rank"),
		s.ManyToOne("author", "ruser").Fields("authorId").References("id"), s.Table("r_posts"))
	db := newClient(t, "sqlite", viborm.Config{Models: []viborm.AnyModel{pu, pp}})
	if _, err := pu.FindMany(context.Background(), db, viborm.FindMany{Include: viborm.Include{"posts": {}}}); !errors.Is(err, viborm.ErrValidation) || fieldOf(err) != "include.posts" {
		t.Fatalf("include into a struct without the field: %v", err)
	}
}

func TestIncludeCacheKeys(t *testing.T) {
	env := newCacheEnv(t, "sqlite", "memory", viborm.Config{Models: relModels})
	c := env.db.WithCache(viborm.CacheOptions{TTL: time.Minute})
	key := func(a viborm.FindMany) string {
		k, err := RUsers.CacheKey(c, viborm.OpFindMany, a)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	shapes := []viborm.FindMany{
		{},
		{Include: viborm.Include{"posts": {}}},
		{Include: viborm.Include{"posts": {Take: ptr(1)}}},
		{Include: viborm.Include{"posts": {Where: viborm.Where{"rank": 1}}}},
		{Include: viborm.Include{"posts": {Include: viborm.Include{"comments": {}}}}},
		{Include: viborm.Include{"posts": {}, "profile": {}}},
		{Count: viborm.CountRel{"posts": nil}},
		{Count: viborm.CountRel{"posts": {"rank": 1}}},
		{Select: []string{"name"}},
	}
	seen := map[string]int{}
	for i, a := range shapes {
		k := key(a)
		if j, ok := seen[k]; ok {
			t.Fatalf("shapes %d and %d share the key %s", j, i, k)
		}
		seen[k] = i
	}
	// The selection is widened by the keys an include needs: selecting name
	// alone with posts reads what selecting everything does, under one key.
	if key(viborm.FindMany{Select: []string{"name"}, Include: viborm.Include{"posts": {}}}) != key(shapes[1]) {
		t.Fatal("widened selection, different keys")
	}
	// The same include written twice gives one key (map order, nil vs empty where).
	if key(viborm.FindMany{Include: viborm.Include{"profile": {}, "posts": {Where: viborm.Where{}}}}) != key(viborm.FindMany{Include: viborm.Include{"posts": {}, "profile": {}}}) {
		t.Fatal("equal includes, different keys")
	}
}

func TestIncludeThroughCache(t *testing.T) {
	forEachCacheDriver(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		cnt := &stmtCounter{}
		env := newCacheEnv(t, "sqlite", kind, viborm.Config{Models: relModels, Hooks: []viborm.Hook{cnt}})
		db := env.db
		seedBlog(t, db, "sqlite")
		c := db.WithCache(viborm.CacheOptions{TTL: time.Minute})
		args := viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")}, Count: viborm.CountRel{"posts": nil}, Include: viborm.Include{
			"posts":   {OrderBy: []viborm.Order{viborm.Asc("rank")}, Include: viborm.Include{"comments": {}, "tags": {}, "author": {}}, Count: viborm.CountRel{"comments": nil}},
			"profile": {},
		}}
		cnt.reset()
		miss, err := RUsers.FindMany(ctx, c, args)
		if err != nil {
			t.Fatal(err)
		}
		if n := cnt.reset(); n == 0 {
			t.Fatal("the miss ran no statement")
		}
		hit, err := RUsers.FindMany(ctx, c, args)
		if err != nil {
			t.Fatal(err)
		}
		if n := cnt.reset(); n != 0 {
			t.Fatalf("the hit ran %d statements", n)
		}
		if !reflect.DeepEqual(hit, miss) {
			t.Fatalf("hit differs from miss:\n%+v\n%+v", hit, miss)
		}
		// Nil versus empty survives the cache.
		if hit[2].Posts == nil || hit[1].Profile != nil || hit[0].Posts[4].Tags == nil {
			t.Fatal("the hit lost an empty relation or invented a to-one")
		}
		// Scribble over every nested level of the hit: the next hit is intact.
		hit[0].Posts[0].Comments[0].Body = "x"
		hit[0].Posts[0].Tags[0].Name = "x"
		hit[0].Posts[0].Author.Name = "x"
		hit[0].Profile.Bio = "x"
		hit[0].Posts = append(hit[0].Posts[:1], RPost{Title: "x"})
		hit[0].Count.Posts = 99
		again, err := RUsers.FindMany(ctx, c, args)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, miss) {
			t.Fatal("a hit shares memory with the cache")
		}
	})
}

func TestIncludeThroughCacheRows(t *testing.T) {
	forEachCacheDriver(t, func(t *testing.T, kind string) {
		ctx := context.Background()
		env := newCacheEnv(t, "sqlite", kind, viborm.Config{Models: []viborm.AnyModel{XUsers, XPosts}})
		db := env.db
		u, err := XUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"name": "ann"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []viborm.Data{{"title": "x", "authorId": u["id"]}, {"title": "z"}} {
			if _, err := XPosts.Create(ctx, db, viborm.Create{Data: d}); err != nil {
				t.Fatal(err)
			}
		}
		c := db.WithCache(viborm.CacheOptions{TTL: time.Minute})
		args := viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("title")}, Include: viborm.Include{"author": {Include: viborm.Include{"posts": {}}, Count: viborm.CountRel{"posts": nil}}}}
		miss, err := XPosts.FindMany(ctx, c, args)
		if err != nil {
			t.Fatal(err)
		}
		hit, err := XPosts.FindMany(ctx, c, args)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(hit, miss) {
			t.Fatalf("hit differs from miss:\n%#v\n%#v", hit, miss)
		}
		a := hit[0]["author"].(viborm.Row)
		a["name"] = "x"
		a["posts"].([]viborm.Row)[0]["title"] = "x"
		a["_count"].(viborm.Row)["posts"] = int64(9)
		again, _ := XPosts.FindMany(ctx, c, args)
		if !reflect.DeepEqual(again, miss) {
			t.Fatal("a Row hit shares memory with the cache")
		}
	})
}

// BenchmarkInclude reads 100 users with their posts (1:N, 10 posts each)
// and 100 posts with their author (N:1), uncached and through the memory
// cache driver, on SQLite and PostgreSQL. stmts/op is the number of SQL
// statements per read: 2 (the read, then one per relation level) uncached,
// 0 on a hit.
func BenchmarkInclude(b *testing.B) {
	ctx := context.Background()
	env := func(b *testing.B, dialect, kind string) (viborm.Reader, *stmtCounter) {
		cnt := &stmtCounter{}
		cfg := viborm.Config{Models: relModels, Hooks: []viborm.Hook{cnt}}
		var db *viborm.Client
		var r viborm.Reader
		if kind == "memory" {
			db = newCacheEnv(b, dialect, kind, cfg).db
			r = db.WithCache(viborm.CacheOptions{TTL: time.Hour})
		} else {
			db = newClient(b, dialect, cfg)
			r = db
		}
		users := make([]viborm.Data, 100)
		for i := range users {
			users[i] = viborm.Data{"name": fmt.Sprintf("user %d", i)}
		}
		if _, err := RUsers.CreateMany(ctx, db, viborm.CreateMany{Data: users}); err != nil {
			b.Fatal(err)
		}
		us, err := RUsers.FindMany(ctx, db, viborm.FindMany{})
		if err != nil {
			b.Fatal(err)
		}
		var posts []viborm.Data
		for _, u := range us {
			for j := range 10 {
				posts = append(posts, viborm.Data{"title": fmt.Sprintf("p%d", j), "authorId": u.ID, "rank": j})
			}
		}
		if _, err := RPosts.CreateMany(ctx, db, viborm.CreateMany{Data: posts}); err != nil {
			b.Fatal(err)
		}
		return r, cnt
	}
	reads := []struct {
		name string
		run  func(r viborm.Reader) (int, error)
	}{
		{"usersWithPosts", func(r viborm.Reader) (int, error) {
			us, err := RUsers.FindMany(ctx, r, viborm.FindMany{Take: ptr(100), Include: viborm.Include{"posts": {}}})
			return len(us), err
		}},
		{"postsWithAuthor", func(r viborm.Reader) (int, error) {
			ps, err := RPosts.FindMany(ctx, r, viborm.FindMany{Take: ptr(100), Include: viborm.Include{"author": {}}})
			return len(ps), err
		}},
	}
	for _, c := range reads {
		for _, dialect := range []string{"sqlite", "postgres"} {
			for _, kind := range []string{"uncached", "memory"} {
				b.Run(fmt.Sprintf("%s/%s/%s", c.name, dialect, kind), func(b *testing.B) {
					r, cnt := env(b, dialect, kind)
					if n, err := c.run(r); err != nil || n != 100 {
						b.Fatalf("%d rows, %v", n, err)
					}
					cnt.reset()
					b.ReportAllocs()
					for b.Loop() {
						if _, err := c.run(r); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(cnt.reset())/float64(b.N), "stmts/op")
				})
			}
		}
	}
}

// TestIncludeWithRelationFilters: relation filters work inside an
// include's where and a count's where (the counted table keeps its name
// for their correlation), and a read with includes runs inside a
// transaction.
func TestIncludeWithRelationFilters(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db, _ := newRelClient(t, dialect, viborm.Config{})
		args := viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")},
			Include: viborm.Include{"posts": {OrderBy: []viborm.Order{viborm.Asc("rank")}, Where: viborm.Where{"tags": viborm.Some(viborm.Where{"name": "sql"})}}},
			Count:   viborm.CountRel{"posts": {"comments": viborm.Some(viborm.Where{"body": viborm.EndsWith(".1")})}}}
		check := func(us []RUser) {
			t.Helper()
			if got := titles(us[0].Posts); !reflect.DeepEqual(got, []string{"a0", "a1"}) {
				t.Fatalf("ann's posts tagged sql: %v", got)
			}
			if len(us[1].Posts) != 0 || us[0].Count.Posts != 3 || us[1].Count.Posts != 0 {
				t.Fatalf("bob's posts %v, counts %d %d", titles(us[1].Posts), us[0].Count.Posts, us[1].Count.Posts)
			}
		}
		us, err := RUsers.FindMany(ctx, db, args)
		if err != nil {
			t.Fatal(err)
		}
		check(us)
		err = db.Tx(ctx, func(tx *viborm.Tx) error {
			us, err := RUsers.FindMany(ctx, tx, args)
			if err == nil {
				check(us)
			}
			return err
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	})
}
