package query_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/verr"
	"github.com/viborm/viborm-go/s"
)

// rfBlog: author (user) 1–n post, post n–m tag, user 1–1 profile (the
// profile holds the key).
var rfBlog, rfUser, rfPost = func() (query.Rels, *schema.Model, *schema.Model) {
	models := map[string]*schema.Model{}
	add := func(name string, opts ...s.Option) {
		md := schema.Build(name, opts, rowType)
		if md.Err != nil {
			panic(md.Err)
		}
		models[name] = md
	}
	add("user", s.Int("id").ID(), s.String("name"), s.String("email").Unique(), s.String("nick").Nullable().Unique(),
		s.OneToMany("posts", "post"), s.OneToOne("profile", "profile"))
	add("post", s.Int("id").ID(), s.String("title"), s.Int("authorId").Nullable(),
		s.ManyToOne("author", "user").Fields("authorId").References("id"), s.ManyToMany("tags", "tag"))
	add("profile", s.Int("id").ID(), s.Int("userId").Unique(), s.OneToOne("user", "user").Fields("userId").References("id"))
	add("tag", s.Int("id").ID(), s.String("label"))
	rels, err := schema.Resolve(models)
	if err != nil {
		panic(err)
	}
	return rels, models["user"], models["post"]
}()

func rfWhere(md *schema.Model, w W) (*query.Expr, error) {
	return query.WhereRels(md, rfBlog, w, "where", condOf)
}

func rfEncode(t *testing.T, md *schema.Model, w W) string {
	t.Helper()
	e, err := rfWhere(md, w)
	if err != nil {
		t.Fatal(err)
	}
	return string((&query.Query{Where: e}).Encode(nil))
}

func TestRelFilterShapesEncodeApart(t *testing.T) {
	pub := W{"title": "x"}
	shapes := []W{
		{"posts": cond(query.OpSome, pub)},
		{"posts": cond(query.OpEvery, pub)},
		{"posts": cond(query.OpNone, pub)},
		{"posts": cond(query.OpSome, nil)},
		{"posts": cond(query.OpSome, W{"title": "y"})},
		{"profile": cond(query.OpIs, nil)},
		{"profile": cond(query.OpIsNot, nil)},
		{"profile": cond(query.OpIs, W{})},
		{"profile": cond(query.OpIsNot, W{})},
		{"posts": cond(query.OpSome, W{"tags": cond(query.OpSome, nil)})},
		{"posts": cond(query.OpSome, W{"tags": cond(query.OpNone, nil)})},
		{"posts": cond(query.OpSome, W{"author": cond(query.OpIs, nil)})},
	}
	seen := map[string]int{}
	for i, w := range shapes {
		k := rfEncode(t, rfUser, w)
		if j, dup := seen[k]; dup {
			t.Errorf("shapes %d and %d encode alike", j, i)
		}
		seen[k] = i
	}
	// One filter in its forms: constructor, map, shorthand.
	for _, same := range [][]W{
		{{"posts": cond(query.OpSome, pub)}, {"posts": W{"some": pub}}},
		{{"profile": cond(query.OpIs, nil)}, {"profile": nil}, {"profile": W{"is": nil}}},
		{{"profile": cond(query.OpIs, W{"id": 1})}, {"profile": W{"id": 1}}, {"profile": W{"is": W{"id": 1}}}},
		{{"posts": W{"some": pub, "none": W{}}}, {"posts": W{"none": nil, "some": pub}}},
	} {
		want := rfEncode(t, rfUser, same[0])
		for _, w := range same[1:] {
			if got := rfEncode(t, rfUser, w); got != want {
				t.Errorf("%v and %v encode apart", same[0], w)
			}
		}
	}
}

func TestRelFilterErrors(t *testing.T) {
	for _, c := range []struct {
		md   *schema.Model
		w    W
		path string
	}{
		{rfUser, W{"posts": cond(query.OpIs, W{})}, "where.posts.is"},
		{rfUser, W{"posts": nil}, "where.posts.is"},
		{rfPost, W{"author": cond(query.OpEvery, W{})}, "where.author.every"},
		{rfPost, W{"tags": W{"label": "x"}}, "where.tags"},
		{rfPost, W{"title": cond(query.OpSome, W{})}, "where.title"},
		{rfPost, W{"author": W{"is": 3}}, "where.author.is"},
		{rfPost, W{"author": cond(query.OpIs, W{"posts": cond(query.OpSome, W{"nope": 1})})}, "where.author.is.posts.some.nope"},
	} {
		_, err := rfWhere(c.md, c.w)
		var ve *verr.Error
		if !errors.As(err, &ve) || ve.Code != verr.CodeValidation || ve.Field != c.path {
			t.Errorf("%v: got %v, want a validation error at %s", c.w, err, c.path)
		}
	}
	// Without the client's relations a relation name is an unknown field.
	if _, err := query.Where(rfUser, W{"posts": cond(query.OpSome, nil)}, "where", condOf); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Fatalf("no rels: %v", err)
	}
}

func TestRelFiltersCountTowardsMaxWhereDepth(t *testing.T) {
	build := func(levels int) W {
		w := W{"title": "x"}
		for i := 1; i < levels; i++ {
			if i%2 == 1 {
				w = W{"posts": cond(query.OpSome, w)}
			} else {
				w = W{"author": cond(query.OpIs, w)}
			}
		}
		return w
	}
	// build(n) nests n levels: n-1 relation filters around a where on
	// post, the outermost on user when n is even.
	if _, err := rfWhere(rfUser, build(query.MaxWhereDepth)); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if _, err := rfWhere(rfPost, build(query.MaxWhereDepth+1)); err == nil || !strings.Contains(err.Error(), "MaxWhereDepth") {
		t.Fatalf("beyond the limit: %v", err)
	}
}

func rfFind(md *schema.Model, w W, order []query.OrderBy, take *int, skip int, cursor W, distinct []string) (*query.Query, error) {
	return query.Find(md, rfBlog, w, order, take, skip, cursor, distinct, condOf)
}

func TestFindCursorTakeDistinct(t *testing.T) {
	neg, pos := -3, 3
	q, err := rfFind(rfUser, nil, []query.OrderBy{{Field: "name"}}, &neg, 1, W{"email": "a@x"}, []string{"name", "id", "name"})
	if err != nil {
		t.Fatal(err)
	}
	if q.Ext == nil || !q.Ext.Back || q.Take != 3 || !q.HasTake || q.Skip != 1 || q.Ext.Cursor == nil {
		t.Fatalf("page: %+v", q)
	}
	if d := q.Ext.Distinct; len(d) != 2 || d[0].Name != "id" || d[1].Name != "name" {
		t.Fatalf("distinct not canonical: %v", d)
	}
	if len(q.Order) != 2 || q.Order[1].F.Name != "id" {
		t.Fatalf("no id tiebreak: %+v", q.Order)
	}
	// A unique non-nullable sort key needs no tiebreak; a nullable unique one does.
	q, _ = rfFind(rfUser, nil, []query.OrderBy{{Field: "email", Desc: true}}, nil, 0, W{"id": 1}, nil)
	if len(q.Order) != 1 {
		t.Fatalf("tiebreak after a unique key: %+v", q.Order)
	}
	q, _ = rfFind(rfUser, nil, []query.OrderBy{{Field: "nick"}}, nil, 0, W{"id": 1}, nil)
	if len(q.Order) != 2 {
		t.Fatalf("no tiebreak after a nullable unique key: %+v", q.Order)
	}
	// No cursor, no negative take, no distinct: the order is as given.
	q, _ = rfFind(rfUser, nil, []query.OrderBy{{Field: "name"}}, &pos, 0, nil, nil)
	if len(q.Order) != 1 || q.Ext != nil {
		t.Fatalf("plain: %+v", q)
	}
	for _, c := range []struct {
		cursor   W
		distinct []string
		path     string
	}{
		{W{"name": "x"}, nil, "cursor"},
		{W{"id": cond(query.OpGt, 1)}, nil, "cursor"},
		{W{"id": 1}, []string{"nope"}, "distinct[0]"},
	} {
		_, err := rfFind(rfUser, nil, nil, nil, 0, c.cursor, c.distinct)
		var ve *verr.Error
		if !errors.As(err, &ve) || ve.Code != verr.CodeValidation || ve.Field != c.path {
			t.Errorf("%v %v: got %v, want a validation error at %s", c.cursor, c.distinct, err, c.path)
		}
	}
	// Every shape encodes apart.
	shapes := []*query.Query{}
	add := func(take *int, cursor W, distinct []string) {
		q, err := rfFind(rfUser, nil, nil, take, 0, cursor, distinct)
		if err != nil {
			t.Fatal(err)
		}
		shapes = append(shapes, q)
	}
	add(nil, nil, nil)
	add(&pos, nil, nil)
	add(&neg, nil, nil)
	add(nil, W{"id": 1}, nil)
	add(nil, W{"id": 2}, nil)
	add(nil, W{"email": "1"}, nil)
	add(nil, nil, []string{"name"})
	add(nil, nil, []string{"email"})
	seen := map[string]int{}
	for i, q := range shapes {
		k := string(q.Encode(nil))
		if j, dup := seen[k]; dup {
			t.Errorf("shapes %d and %d encode alike", j, i)
		}
		seen[k] = i
	}
}

func TestRelFilterDeps(t *testing.T) {
	e, err := rfWhere(rfUser, W{"posts": cond(query.OpSome, W{"tags": cond(query.OpNone, nil)}), "profile": nil})
	if err != nil {
		t.Fatal(err)
	}
	q := &query.Query{Where: e}
	got := strings.Join(q.Deps(), ",")
	if got != "post,post_tag,profile,tag" {
		t.Fatalf("deps %s", got)
	}
	if d := (&query.Query{}).Deps(); len(d) != 0 {
		t.Fatalf("no filter, deps %v", d)
	}
}

// FuzzRelWhere feeds arbitrary nestings of relation filters, maps and
// values to the normaliser: it returns a query or an error, never panics,
// and a query it returns encodes the same twice.
func FuzzRelWhere(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3})
	f.Add([]byte{5, 0, 7, 1, 9, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		pos := 0
		next := func() byte {
			if pos >= len(b) {
				return 255
			}
			pos++
			return b[pos-1]
		}
		keys := []string{"posts", "author", "tags", "profile", "title", "name", "AND", "NOT", "some", "every", "none", "is", "isNot"}
		var gen func(depth int) any
		gen = func(depth int) any {
			c := next()
			if depth > 6 || c == 255 {
				return nil
			}
			switch c % 8 {
			case 0:
				return nil
			case 1:
				return "x"
			case 2:
				return 3
			case 3, 4:
				w := W{}
				for n := int(next() % 3); n > 0; n-- {
					w[keys[int(next())%len(keys)]] = gen(depth + 1)
				}
				return w
			case 5:
				ops := []query.Op{query.OpSome, query.OpEvery, query.OpNone, query.OpIs, query.OpIsNot, query.OpEq}
				return cond(ops[int(next())%len(ops)], gen(depth+1))
			case 6:
				return []W{{"title": "x"}}
			}
			return map[string]any{"id": 1}
		}
		w, _ := gen(0).(W)
		for _, md := range []*schema.Model{rfUser, rfPost} {
			e, err := rfWhere(md, w)
			if err != nil {
				var ve *verr.Error
				if !errors.As(err, &ve) {
					t.Fatalf("untyped error %v", err)
				}
				continue
			}
			// Normalising again gives the same encoding.
			q := &query.Query{Where: e}
			e2, err := rfWhere(md, w)
			if err != nil {
				t.Fatalf("second normalisation: %v", err)
			}
			if a, b := q.Encode(nil), (&query.Query{Where: e2}).Encode(nil); string(a) != string(b) {
				t.Fatal("unstable encoding")
			}
			_ = q.Deps()
		}
	})
}
