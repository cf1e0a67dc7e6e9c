package viborm_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/s"
)

// The models of the nested-write tests (R3): a blog with user → posts
// (ON DELETE CASCADE), post ↔ tag (many-to-many), post → comments (ON
// DELETE SET NULL). Names are prefixed so that they never meet other
// tests' models.

type WUser struct {
	ID    int64
	Email string
}

type WPost struct {
	ID       int64
	Title    string
	AuthorID int64 `viborm:"authorId"`
}

type WTag struct {
	ID   int64
	Name string
}

type WProfile struct {
	ID     int64
	Bio    string
	UserID *int64 `viborm:"userId"`
}

type WComment struct {
	ID     int64
	Body   string
	PostID *int64 `viborm:"postId"`
}

var (
	WUsers = viborm.Model[WUser]("w_user",
		s.BigInt("id").ID().Autoincrement(),
		s.String("email").Unique(),
		s.OneToMany("posts", "w_post"),
		s.OneToOne("profile", "w_profile"),
	)
	WProfiles = viborm.Model[WProfile]("w_profile",
		s.BigInt("id").ID().Autoincrement(),
		s.String("bio"),
		s.BigInt("userId").Nullable(),
		s.OneToOne("user", "w_user").Fields("userId").References("id").OnDelete(s.SetNull),
	)
	WPosts = viborm.Model[WPost]("w_post",
		s.BigInt("id").ID().Autoincrement(),
		s.String("title"),
		s.BigInt("authorId"),
		s.ManyToOne("author", "w_user").Fields("authorId").References("id").OnDelete(s.Cascade),
		s.ManyToMany("tags", "w_tag"),
		s.OneToMany("comments", "w_comment"),
	)
	WTags = viborm.Model[WTag]("w_tag",
		s.BigInt("id").ID().Autoincrement(),
		s.String("name").Unique(),
		s.ManyToMany("posts", "w_post"),
	)
	WComments = viborm.Model[WComment]("w_comment",
		s.BigInt("id").ID().Autoincrement(),
		s.String("body"),
		s.BigInt("postId").Nullable(),
		s.ManyToOne("post", "w_post").Fields("postId").References("id").OnDelete(s.SetNull),
	)
	wModels = []viborm.AnyModel{WUsers, WPosts, WTags, WComments, WProfiles}
)

// wQuote quotes an identifier for raw SQL on dialect.
func wQuote(dialect, n string) string {
	if dialect == "postgres" {
		return `"` + n + `"`
	}
	return "`" + n + "`"
}

// links returns the (post, tag) pairs of the junction table, sorted.
func links(t *testing.T, db *viborm.Client) []string {
	t.Helper()
	d := db.Dialect()
	rows, err := db.QueryRaw(context.Background(), fmt.Sprintf("SELECT %s AS p, %s AS t FROM %s",
		wQuote(d, "w_postId"), wQuote(d, "w_tagId"), wQuote(d, "w_post_w_tag")))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%v-%v", r["p"], r["t"]))
	}
	slices.Sort(out)
	return out
}

func wClient(t *testing.T, dialect string) *viborm.Client {
	return newClient(t, dialect, viborm.Config{Models: wModels})
}

func TestJunctionTableIsPushedWithItsDeterministicName(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := wClient(t, dialect)
		res, err := db.Push(ctx, &viborm.PushOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		var ddl string
		for _, st := range res.Statements {
			if strings.Contains(st, "TABLE IF NOT EXISTS "+wQuote(dialect, "w_post_w_tag")) {
				ddl = st
			}
		}
		for _, want := range []string{
			wQuote(dialect, "w_postId"), wQuote(dialect, "w_tagId"),
			"PRIMARY KEY (" + wQuote(dialect, "w_postId") + ", " + wQuote(dialect, "w_tagId") + ")",
			"ON DELETE CASCADE",
		} {
			if !strings.Contains(ddl, want) {
				t.Fatalf("junction DDL %q lacks %q (statements %q)", ddl, want, res.Statements)
			}
		}
		// Pushed (newClient pushed it), and CheckSchema knows it.
		if err := db.CheckSchema(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecRaw(ctx, "DROP TABLE "+wQuote(dialect, "w_post_w_tag")); err != nil {
			t.Fatal(err)
		}
		err = db.CheckSchema(ctx)
		if !errors.Is(err, viborm.ErrSchema) || !strings.Contains(err.Error(), `junction table "w_post_w_tag"`) {
			t.Fatalf("CheckSchema without the junction table = %v", err)
		}
		if _, err := db.Push(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if got := links(t, db); len(got) != 0 {
			t.Fatalf("links after push = %v", got)
		}
	})
}

func TestNestedCreateAndConnect(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := wClient(t, dialect)

		// A user with two posts: the children get the user's id.
		ada, err := WUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{
			"email": "ada@x",
			"posts": viborm.CreateNested(viborm.Data{"title": "A"}, viborm.Data{"title": "B"}),
		}})
		if err != nil {
			t.Fatal(err)
		}
		posts, err := WPosts.FindMany(ctx, db, viborm.FindMany{Where: viborm.Where{"authorId": ada.ID}, OrderBy: []viborm.Order{{Field: "title"}}})
		if err != nil || len(posts) != 2 || posts[0].Title != "A" || posts[1].Title != "B" {
			t.Fatalf("posts of the nested create = %+v, %v", posts, err)
		}

		// A post with its author connected: the FK comes from the row found.
		p, err := WPosts.Create(ctx, db, viborm.Create{Data: viborm.Data{
			"title":  "C",
			"author": viborm.Connect(viborm.Where{"email": "ada@x"}),
		}})
		if err != nil || p.AuthorID != ada.ID {
			t.Fatalf("post with author connected = %+v, %v", p, err)
		}

		// A post with its author created first.
		p2, err := WPosts.Create(ctx, db, viborm.Create{Data: viborm.Data{
			"title":  "D",
			"author": viborm.CreateNested(viborm.Data{"email": "bob@x"}),
		}})
		if err != nil {
			t.Fatal(err)
		}
		bob, err := WUsers.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"email": "bob@x"}})
		if err != nil || p2.AuthorID != bob.ID {
			t.Fatalf("post with author created = %+v, author %+v, %v", p2, bob, err)
		}

		// Many-to-many: connect an existing tag and create another.
		goTag, err := WTags.Create(ctx, db, viborm.Create{Data: viborm.Data{"name": "go"}})
		if err != nil {
			t.Fatal(err)
		}
		p3, err := WPosts.Create(ctx, db, viborm.Create{Data: viborm.Data{
			"title":  "E",
			"author": viborm.Connect(viborm.Where{"id": ada.ID}),
			"tags":   viborm.Nested{Connect: []viborm.Where{{"name": "go"}}, Create: []viborm.Data{{"name": "sql"}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		sqlTag, err := WTags.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"name": "sql"}})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{fmt.Sprintf("%d-%d", p3.ID, goTag.ID), fmt.Sprintf("%d-%d", p3.ID, sqlTag.ID)}
		slices.Sort(want)
		if got := links(t, db); !slices.Equal(got, want) {
			t.Fatalf("links = %v, want %v", got, want)
		}
		// From the other side, and connecting again is not an error.
		if _, err := WTags.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": goTag.ID}, Data: viborm.Data{
			"posts": viborm.Connect(viborm.Where{"id": p3.ID}, viborm.Where{"id": p.ID}),
		}}); err != nil {
			t.Fatal(err)
		}
		if got := links(t, db); len(got) != 3 || !slices.Contains(got, fmt.Sprintf("%d-%d", p.ID, goTag.ID)) {
			t.Fatalf("links after connect from the tag side = %v", got)
		}
		// Disconnect, and a one-to-many connect on update.
		if _, err := WPosts.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": p3.ID}, Data: viborm.Data{
			"title": "E2",
			"tags":  viborm.Disconnect(viborm.Where{"name": "sql"}),
		}}); err != nil {
			t.Fatal(err)
		}
		if got := links(t, db); len(got) != 2 || slices.Contains(got, fmt.Sprintf("%d-%d", p3.ID, sqlTag.ID)) {
			t.Fatalf("links after disconnect = %v", got)
		}
		if _, err := WUsers.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": bob.ID}, Data: viborm.Data{
			"posts": viborm.Connect(viborm.Where{"id": p.ID}),
		}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := WPosts.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"id": p.ID}}); got.AuthorID != bob.ID {
			t.Fatalf("post after connect to bob = %+v", got)
		}
		// One-to-many disconnect sets the nullable FK to NULL.
		c, err := WComments.Create(ctx, db, viborm.Create{Data: viborm.Data{"body": "hi", "post": viborm.Connect(viborm.Where{"id": p.ID})}})
		if err != nil || c.PostID == nil || *c.PostID != p.ID {
			t.Fatalf("comment = %+v, %v", c, err)
		}
		if _, err := WPosts.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": p.ID}, Data: viborm.Data{
			"comments": viborm.Disconnect(viborm.Where{"id": c.ID}),
		}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := WComments.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"id": c.ID}}); got.PostID != nil {
			t.Fatalf("comment after disconnect = %+v", got)
		}
	})
}

func TestNestedWriteErrors(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := wClient(t, dialect)
		ada, err := WUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "ada@x"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			data viborm.Data
			is   error
			path string
		}{
			{"connect finds no row", viborm.Data{"title": "x", "author": viborm.Connect(viborm.Where{"id": ada.ID + 100})}, viborm.ErrNotFound, "data.author.connect"},
			{"m2m connect finds no row", viborm.Data{"title": "x", "authorId": ada.ID, "tags": viborm.Connect(viborm.Where{"name": "go"}, viborm.Where{"name": "nope"})}, viborm.ErrNotFound, "data.tags.connect[0]"},
			{"unknown relation", viborm.Data{"title": "x", "autor": viborm.Connect(viborm.Where{"id": ada.ID})}, viborm.ErrValidation, "data.autor"},
			{"bad nested field", viborm.Data{"title": "x", "authorId": ada.ID, "tags": viborm.CreateNested(viborm.Data{"name": "a"}, viborm.Data{"nom": "b"})}, viborm.ErrValidation, "data.tags.create[1].nom"},
			{"connect by a non-unique where", viborm.Data{"title": "x", "author": viborm.Connect(viborm.Where{"id": viborm.Gt(0)})}, viborm.ErrValidation, "data.author.connect"},
			{"fk set twice", viborm.Data{"title": "x", "authorId": ada.ID, "author": viborm.Connect(viborm.Where{"id": ada.ID})}, viborm.ErrValidation, "data.author"},
			{"two connects on to-one", viborm.Data{"title": "x", "author": viborm.Connect(viborm.Where{"id": 1}, viborm.Where{"id": 2})}, viborm.ErrValidation, "data.author"},
			{"disconnect in a create", viborm.Data{"title": "x", "authorId": ada.ID, "tags": viborm.Disconnect(viborm.Where{"id": 1})}, viborm.ErrValidation, "data.tags"},
			{"scalar on a relation", viborm.Data{"title": "x", "authorId": ada.ID, "tags": 3}, viborm.ErrValidation, "data.tags"},
		} {
			_, err := WPosts.Create(ctx, db, viborm.Create{Data: tc.data})
			var e *viborm.Error
			if !errors.Is(err, tc.is) || !errors.As(err, &e) || e.Field != tc.path {
				t.Errorf("%s: err = %v (field %q), want %v at %q", tc.name, err, wFieldOf(err), tc.is, tc.path)
			}
		}
		nested := viborm.Data{"title": "x", "author": viborm.Connect(viborm.Where{"id": ada.ID})}
		if _, err := WPosts.CreateMany(ctx, db, viborm.CreateMany{Data: []viborm.Data{nested}}); !errors.Is(err, viborm.ErrValidation) || wFieldOf(err) != "data[0]" {
			t.Errorf("createMany with a nested write = %v", err)
		}
		if _, err := WPosts.Upsert(ctx, db, viborm.Upsert{Where: viborm.Where{"id": 1}, Create: nested}); !errors.Is(err, viborm.ErrValidation) {
			t.Errorf("upsert with a nested write = %v", err)
		}
		if n, _ := WPosts.Count(ctx, db, viborm.Count{}); n != 0 {
			t.Fatalf("failed creates left %d posts", n)
		}
		if n, _ := WTags.Count(ctx, db, viborm.Count{}); n != 0 {
			t.Fatalf("failed creates left %d tags", n)
		}
	})
}

func wFieldOf(err error) string {
	var e *viborm.Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

func TestNestedWriteIsOneTransaction(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := wClient(t, dialect)
		if _, err := WTags.Create(ctx, db, viborm.Create{Data: viborm.Data{"name": "dup"}}); err != nil {
			t.Fatal(err)
		}
		// The second post's nested tag violates the unique name: the user
		// and the first post must be rolled back with it.
		_, err := WUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{
			"email": "ada@x",
			"posts": viborm.CreateNested(
				viborm.Data{"title": "A"},
				viborm.Data{"title": "B", "tags": viborm.CreateNested(viborm.Data{"name": "dup"})},
			),
		}})
		if !errors.Is(err, viborm.ErrUniqueViolation) {
			t.Fatalf("err = %v, want a unique violation", err)
		}
		if n, _ := WUsers.Count(ctx, db, viborm.Count{}); n != 0 {
			t.Fatalf("the parent of a failed nested create was kept (%d users)", n)
		}
		if n, _ := WPosts.Count(ctx, db, viborm.Count{}); n != 0 {
			t.Fatalf("a sibling of a failed nested create was kept (%d posts)", n)
		}
		// The same inside Client.Tx: the nested write joins the transaction.
		err = db.Tx(ctx, func(tx *viborm.Tx) error {
			if _, err := WUsers.Create(ctx, tx, viborm.Create{Data: viborm.Data{"email": "bob@x",
				"posts": viborm.CreateNested(viborm.Data{"title": "A"})}}); err != nil {
				return err
			}
			return errors.New("abort")
		}, nil)
		if err == nil || err.Error() != "abort" {
			t.Fatalf("tx err = %v", err)
		}
		if n, _ := WPosts.Count(ctx, db, viborm.Count{}); n != 0 {
			t.Fatalf("a rolled-back transaction kept %d posts", n)
		}
		// An update's failing connect rolls back its own scalar change.
		u, err := WUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "cy@x"}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = WUsers.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": u.ID}, Data: viborm.Data{
			"email": "cy2@x", "posts": viborm.Connect(viborm.Where{"id": 12345}),
		}})
		if !errors.Is(err, viborm.ErrNotFound) || wFieldOf(err) != "data.posts.connect[0]" {
			t.Fatalf("update with a failing connect = %v", err)
		}
		if got, _ := WUsers.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"id": u.ID}}); got.Email != "cy@x" {
			t.Fatalf("the update of a failed nested write was kept: %+v", got)
		}
	})
}

func TestNestedWritesInvalidateEveryTouchedModel(t *testing.T) {
	combos := [][2]string{{"sqlite", "redis"}}
	for _, d := range dialects {
		combos = append(combos, [2]string{d, "memory"})
	}
	for _, combo := range combos {
		dialect, kind := combo[0], combo[1]
		t.Run(dialect+"/"+kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			env := newCacheEnv(t, dialect, kind, viborm.Config{Models: wModels, AutoInvalidate: true})
			db := env.db
			cached := db.WithCache(viborm.CacheOptions{})
			count := func(m interface {
				Count(context.Context, viborm.Reader, viborm.Count) (int64, error)
			}) int64 {
				n, err := m.Count(ctx, cached, viborm.Count{})
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			// Warm the cached counts, then a nested create of a user with a
			// post with a tag: every model it wrote is invalidated.
			for _, m := range []interface {
				Count(context.Context, viborm.Reader, viborm.Count) (int64, error)
			}{WUsers, WPosts, WTags, WComments} {
				count(m)
			}
			if _, err := WUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "ada@x",
				"posts": viborm.CreateNested(viborm.Data{"title": "A", "tags": viborm.CreateNested(viborm.Data{"name": "go"})})}}); err != nil {
				t.Fatal(err)
			}
			if u, p, tg := count(WUsers), count(WPosts), count(WTags); u != 1 || p != 1 || tg != 1 {
				t.Fatalf("cached counts after a nested create: users %d, posts %d, tags %d; want 1 each", u, p, tg)
			}
			// A post and a comment of it, cached, then the user deleted: the
			// database cascades to the post (and sets the comment's post to
			// NULL), so the cached posts and comments are cleared too.
			p, _ := WPosts.FindFirstOrErr(ctx, db, viborm.FindMany{})
			if _, err := WComments.Create(ctx, db, viborm.Create{Data: viborm.Data{"body": "hi", "postId": p.ID}}); err != nil {
				t.Fatal(err)
			}
			withPost, err := WComments.Count(ctx, cached, viborm.Count{Where: viborm.Where{"postId": p.ID}})
			if err != nil || withPost != 1 {
				t.Fatalf("cached comments of the post = %d, %v", withPost, err)
			}
			if count(WPosts) != 1 {
				t.Fatal("post count")
			}
			if _, err := WUsers.Delete(ctx, db, viborm.Delete{Where: viborm.Where{"email": "ada@x"}}); err != nil {
				t.Fatal(err)
			}
			if n := count(WPosts); n != 0 {
				t.Fatalf("cached post count after a cascading delete of its author = %d, want 0", n)
			}
			if n, _ := WComments.Count(ctx, cached, viborm.Count{Where: viborm.Where{"postId": p.ID}}); n != 0 {
				t.Fatalf("cached comments of a post deleted by cascade = %d, want 0 (SET NULL)", n)
			}
			// A write that touches only tags leaves the cached users alone.
			before := count(WUsers)
			if _, err := WUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "bob@x"}, Cache: &viborm.Invalidate{Auto: ptr(false)}}); err != nil {
				t.Fatal(err)
			}
			if _, err := WTags.Create(ctx, db, viborm.Create{Data: viborm.Data{"name": "sql"}}); err != nil {
				t.Fatal(err)
			}
			if n := count(WUsers); n != before {
				t.Fatalf("a tag write invalidated the cached users: %d, want %d", n, before)
			}
		})
	}
}

func TestNestedOneToOne(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := wClient(t, dialect)
		profileOf := func(id int64) *int64 {
			p, err := WProfiles.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"id": id}})
			if err != nil {
				t.Fatal(err)
			}
			return p.UserID
		}
		// The side without the foreign key creates the profile after the user.
		ada, err := WUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "ada@x",
			"profile": viborm.CreateNested(viborm.Data{"bio": "first"})}})
		if err != nil {
			t.Fatal(err)
		}
		first, err := WProfiles.FindFirstOrErr(ctx, db, viborm.FindMany{Where: viborm.Where{"bio": "first"}})
		if err != nil || first.UserID == nil || *first.UserID != ada.ID {
			t.Fatalf("nested profile = %+v, %v", first, err)
		}
		// The owning side connects the user.
		second, err := WProfiles.Create(ctx, db, viborm.Create{Data: viborm.Data{"bio": "second"}})
		if err != nil {
			t.Fatal(err)
		}
		// Connecting another profile unrelates the first (its key is nullable
		// and unique), in the same transaction.
		if _, err := WUsers.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": ada.ID}, Data: viborm.Data{
			"profile": viborm.Connect(viborm.Where{"id": second.ID})}}); err != nil {
			t.Fatal(err)
		}
		if a, b := profileOf(first.ID), profileOf(second.ID); a != nil || b == nil || *b != ada.ID {
			t.Fatalf("after connect: first %v, second %v", a, b)
		}
		if _, err := WUsers.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": ada.ID}, Data: viborm.Data{
			"profile": viborm.Disconnect()}}); err != nil {
			t.Fatal(err)
		}
		if b := profileOf(second.ID); b != nil {
			t.Fatalf("after disconnect: second %v", *b)
		}
		// And from the owning side.
		if _, err := WProfiles.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": first.ID}, Data: viborm.Data{
			"user": viborm.Connect(viborm.Where{"email": "ada@x"})}}); err != nil {
			t.Fatal(err)
		}
		if a := profileOf(first.ID); a == nil || *a != ada.ID {
			t.Fatalf("owning connect: %v", a)
		}
		if _, err := WProfiles.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": first.ID}, Data: viborm.Data{
			"user": viborm.Disconnect()}}); err != nil {
			t.Fatal(err)
		}
		if a := profileOf(first.ID); a != nil {
			t.Fatalf("owning disconnect: %v", *a)
		}
	})
}

func TestManyToManyWithCompoundIDs(t *testing.T) {
	labels := viborm.Model[viborm.Row]("w_label",
		s.String("ns"), s.String("name"), s.ID("ns", "name"),
		s.ManyToMany("items", "w_item"))
	items := viborm.Model[viborm.Row]("w_item",
		s.BigInt("id").ID().Autoincrement(), s.String("title"),
		s.ManyToMany("labels", "w_label"))
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{Models: []viborm.AnyModel{labels, items}})
		if _, err := labels.Create(ctx, db, viborm.Create{Data: viborm.Data{"ns": "a", "name": "x"}}); err != nil {
			t.Fatal(err)
		}
		it, err := items.Create(ctx, db, viborm.Create{Data: viborm.Data{"title": "one",
			"labels": viborm.Nested{Connect: []viborm.Where{{"ns": "a", "name": "x"}}, Create: []viborm.Data{{"ns": "b", "name": "y"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		d := db.Dialect()
		rows, err := db.QueryRaw(ctx, fmt.Sprintf("SELECT %s AS i, %s AS ns, %s AS n FROM %s ORDER BY 2",
			wQuote(d, "w_itemId"), wQuote(d, "w_label_1"), wQuote(d, "w_label_2"), wQuote(d, "w_item_w_label")))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%v %s %s", r["i"], r["ns"], r["n"]))
		}
		want := []string{fmt.Sprintf("%v a x", it["id"]), fmt.Sprintf("%v b y", it["id"])}
		if !slices.Equal(got, want) {
			t.Fatalf("junction rows %q, want %q", got, want)
		}
		// Deleting a label deletes its junction rows (ON DELETE CASCADE).
		if _, err := labels.Delete(ctx, db, viborm.Delete{Where: viborm.Where{"ns": "a", "name": "x"}}); err != nil {
			t.Fatal(err)
		}
		if rows, _ := db.QueryRaw(ctx, "SELECT 1 AS one FROM "+wQuote(d, "w_item_w_label")); len(rows) != 1 {
			t.Fatalf("junction rows after deleting a label: %d, want 1", len(rows))
		}
	})
}
