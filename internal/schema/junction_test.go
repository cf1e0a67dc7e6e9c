package schema_test

import (
	"slices"
	"testing"

	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/s"
)

func build(t *testing.T, name string, opts ...s.Option) *schema.Model {
	t.Helper()
	md := schema.Build(name, opts, rowType)
	if md.Err != nil {
		t.Fatal(md.Err)
	}
	return md
}

func resolve(t *testing.T, mds ...*schema.Model) (map[string]*schema.Model, map[*schema.Model][]*schema.Relation, error) {
	t.Helper()
	models := map[string]*schema.Model{}
	for _, md := range mds {
		models[md.Name] = md
	}
	rels, err := schema.Resolve(models)
	return models, rels, err
}

func rel(rels map[*schema.Model][]*schema.Relation, md *schema.Model, name string) *schema.Relation {
	for _, r := range rels[md] {
		if r.Def.Name == name {
			return r
		}
	}
	return nil
}

func TestJunctionNamesFollowVibORM(t *testing.T) {
	post := build(t, "Post", s.BigInt("id").ID(), s.ManyToMany("tags", "Tag"))
	tag := build(t, "Tag", s.String("slug").ID(), s.ManyToMany("posts", "Post"))
	_, rels, err := resolve(t, post, tag)
	if err != nil {
		t.Fatal(err)
	}
	pt, tp := rel(rels, post, "tags"), rel(rels, tag, "posts")
	j := pt.Junction
	if j == nil || j.Table != "post_tag" || !slices.Equal(j.SourceCols, []string{"postId"}) || !slices.Equal(j.TargetCols, []string{"tagId"}) {
		t.Fatalf("post.tags junction = %+v", j)
	}
	if j.Source != post || j.Target != tag || j.SourceRefs[0] != post.ByName["id"] || j.TargetRefs[0] != tag.ByName["slug"] {
		t.Fatalf("post.tags junction refs = %+v", j)
	}
	m := tp.Junction
	if m.Table != "post_tag" || m.SourceCols[0] != "tagId" || m.TargetCols[0] != "postId" || m.Link != j.Link {
		t.Fatalf("tag.posts junction = %+v", m)
	}
	if pt.Back != tp || tp.Back != pt {
		t.Fatal("the two sides are not each other's Back")
	}
	if got := schema.Junctions(rels); len(got) != 1 || got[0].Source != post {
		t.Fatalf("Junctions = %+v", got)
	}
	if l := j.Link; len(l.PK) != 2 || l.ByName["tagId"].Kind != s.KindString || l.ByName["postId"].Kind != s.KindBigInt {
		t.Fatalf("link model = %+v", l)
	}

	// One side only, a named pair, Through, compound ids, a self-relation.
	a := build(t, "a", s.Int("id").ID(), s.ManyToMany("bs", "b"), s.ManyToMany("featured", "b").Named("feat"), s.ManyToMany("friends", "a"))
	b := build(t, "b", s.String("x"), s.String("y"), s.ID("x", "y"), s.ManyToMany("cs", "c").Through("b_to_c"))
	c := build(t, "c", s.Int("id").ID())
	_, rels, err = resolve(t, a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r        *schema.Relation
		table    string
		src, dst []string
	}{
		{rel(rels, a, "bs"), "a_b", []string{"aId"}, []string{"b_1", "b_2"}},
		{rel(rels, a, "featured"), "a_b_feat", []string{"aId"}, []string{"b_1", "b_2"}},
		{rel(rels, a, "friends"), "a_a", []string{"aAId"}, []string{"aBId"}},
		{rel(rels, b, "cs"), "b_to_c", []string{"b_1", "b_2"}, []string{"cId"}},
	} {
		j := tc.r.Junction
		if j.Table != tc.table || !slices.Equal(j.SourceCols, tc.src) || !slices.Equal(j.TargetCols, tc.dst) {
			t.Errorf("%s: junction %s %v %v, want %s %v %v", tc.r.Def.Name, j.Table, j.SourceCols, j.TargetCols, tc.table, tc.src, tc.dst)
		}
	}
}

func TestJunctionSchemaErrors(t *testing.T) {
	post := func(opts ...s.Option) *schema.Model {
		return build(t, "post", append([]s.Option{s.Int("id").ID()}, opts...)...)
	}
	tag := build(t, "tag", s.Int("id").ID())
	_, _, err := resolve(t, post(s.ManyToMany("tags", "tag"), s.ManyToMany("labels", "tag")), tag)
	schemaErr(t, err, "labels", "already uses this junction")
	_, _, err = resolve(t, post(s.ManyToMany("tags", "tag").Fields("id").References("id")), tag)
	schemaErr(t, err, "tags", "no foreign key fields")
	_, _, err = resolve(t, post(s.ManyToMany("tags", "tag").Through("a")), build(t, "tag", s.Int("id").ID(), s.ManyToMany("posts", "post").Through("b")))
	schemaErr(t, err, "posts", "different junction tables")
	_, _, err = resolve(t, post(s.ManyToMany("tags", "tag")), tag, build(t, "post_tag", s.Int("id").ID()))
	schemaErr(t, err, "tags", "collides with")
	_, _, err = resolve(t, post(s.ManyToOne("t", "tag").Fields("id").References("id").Through("x")), tag)
	schemaErr(t, err, "t", "Through is for many-to-many")
}

func TestBackLinksPairInverseRelations(t *testing.T) {
	user := build(t, "user", s.Int("id").ID(), s.OneToMany("posts", "post"), s.OneToMany("edited", "post").Named("ed"), s.OneToOne("profile", "profile"))
	post := build(t, "post", s.Int("id").ID(), s.Int("authorId"), s.Int("editorId"),
		s.ManyToOne("author", "user").Fields("authorId").References("id"),
		s.ManyToOne("editor", "user").Fields("editorId").References("id").Named("ed"))
	profile := build(t, "profile", s.Int("id").ID(), s.Int("userId"), s.OneToOne("user", "user").Fields("userId").References("id"))
	_, rels, err := resolve(t, user, post, profile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range [][2]*schema.Relation{
		{rel(rels, user, "edited"), rel(rels, post, "editor")},
		{rel(rels, post, "editor"), rel(rels, user, "edited")},
		{rel(rels, user, "profile"), rel(rels, profile, "user")},
		{rel(rels, profile, "user"), rel(rels, user, "profile")},
	} {
		if tc[0].Back != tc[1] {
			t.Errorf("%s.Back = %v, want %s", tc[0].Def.Name, tc[0].Back, tc[1].Def.Name)
		}
	}
	// posts ↔ author is ambiguous with editor unless named: posts has no
	// name, and author neither, so they pair (the named ones are excluded).
	if rel(rels, user, "posts").Back != rel(rels, post, "author") {
		t.Errorf("posts.Back = %v", rel(rels, user, "posts").Back)
	}
}

func TestWriteDepsFollowForeignKeyActions(t *testing.T) {
	user := build(t, "user", s.Int("id").ID(), s.String("email").Unique())
	post := build(t, "post", s.Int("id").ID(), s.Int("authorId"), s.ManyToOne("author", "user").Fields("authorId").References("id").OnDelete(s.Cascade), s.ManyToMany("tags", "tag"))
	comment := build(t, "comment", s.Int("id").ID(), s.Int("postId").Nullable(), s.ManyToOne("post", "post").Fields("postId").References("id").OnDelete(s.SetNull))
	like := build(t, "like", s.Int("id").ID(), s.Int("commentId"), s.ManyToOne("comment", "comment").Fields("commentId").References("id").OnDelete(s.Cascade))
	audit := build(t, "audit", s.Int("id").ID(), s.String("email"), s.ManyToOne("user", "user").Fields("email").References("email").OnUpdate(s.Cascade))
	tag := build(t, "tag", s.Int("id").ID())
	_, rels, err := resolve(t, user, post, comment, like, audit, tag)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		md      *schema.Model
		op      schema.WriteOp
		changed []*schema.Field
		want    []string
	}{
		{user, schema.WriteCreate, nil, []string{"user"}},
		// user → post (cascade) → comment (set null; a like is not deleted), post's junction.
		{user, schema.WriteDelete, nil, []string{"comment", "post", "post_tag", "user"}},
		{comment, schema.WriteDelete, nil, []string{"comment", "like"}},
		{tag, schema.WriteDelete, nil, []string{"post_tag", "tag"}},
		// Changing the email cascades to audit; other fields do not.
		{user, schema.WriteUpdate, []*schema.Field{user.ByName["email"]}, []string{"audit", "user"}},
		{user, schema.WriteUpdate, []*schema.Field{user.ByName["id"]}, []string{"user"}},
		{post, schema.WriteUpdate, []*schema.Field{post.ByName["id"]}, []string{"post", "post_tag"}},
		{user, schema.WriteUpdate, nil, []string{"audit", "user"}},
	} {
		if got := tc.md.WriteDeps(rels, tc.op, tc.changed); !slices.Equal(got, tc.want) {
			t.Errorf("%s op %d %v: %v, want %v", tc.md.Name, tc.op, tc.changed, got, tc.want)
		}
	}
}
