package viborm_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/internal/testenv"
)

// Relation-aware invalidation end to end: a cached read depends on every
// model it reads (its includes, relation counts and relation filters), and
// a write clears exactly the cached reads that depend on what it changed,
// on each cache driver.

// relInvalEnv is a blog client with auto-invalidation, a statement counter
// and a cached handle.
// kind is a kind of newCacheDriver, or "redis-cluster": rediscache on the
// cluster of TestRelationInvalidationOnRedisCluster.
func relInvalEnv(t *testing.T, kind string) (*viborm.Client, *viborm.Cached, *stmtCounter, blog) {
	t.Helper()
	cnt := &stmtCounter{}
	cfg := viborm.Config{Models: relModels, AutoInvalidate: true, Hooks: []viborm.Hook{cnt}}
	var db *viborm.Client
	if kind == "redis-cluster" {
		d, err := rediscache.New(relInvalCluster, nil)
		if err != nil {
			t.Fatal(err)
		}
		kv, err := cache.New(d, &cache.Options{Version: "t" + suffix(), WaitUntil: cache.Inline})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { kv.Close() })
		cfg.Cache = kv
		db = newClient(t, "sqlite", cfg)
	} else {
		db = newCacheEnv(t, "sqlite", kind, cfg).db
	}
	b := seedBlog(t, db, "sqlite")
	return db, db.WithCache(viborm.CacheOptions{TTL: time.Hour}), cnt, b
}

// relInvalCluster is the client of the private cluster that
// TestRelationInvalidationOnRedisCluster starts.
var relInvalCluster *redis.ClusterClient

// TestRelationInvalidationOnRedisCluster runs the scenarios above with
// rediscache on a Redis Cluster of three masters of its own, where a key
// and its dependency records live in different slots.
func TestRelationInvalidationOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cl, err := testenv.StartRedisCluster(t, 3)
	if err != nil {
		t.Fatalf("starting a Redis Cluster: %v", err)
	}
	t.Cleanup(cl.Stop)
	relInvalCluster = redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { relInvalCluster.Close(); relInvalCluster = nil })
	for name, f := range map[string]func(*testing.T, string){
		"updatingAPost": updatingAPost, "relationFilter": relationFilterDeps, "cascade": cascadeDeps,
		"junction": junctionDeps, "pattern": patternDeps,
	} {
		t.Run(name, func(t *testing.T) { f(t, "redis-cluster") })
	}
}

// cachedRead is one cached read of the tests: run reads through the cache
// and returns something to compare.
type cachedRead struct {
	name string
	run  func(t *testing.T) any
}

// warm runs every read twice and checks that the second is a hit.
func warm(t *testing.T, cnt *stmtCounter, reads []cachedRead) {
	t.Helper()
	for _, r := range reads {
		r.run(t)
	}
	cnt.reset()
	for _, r := range reads {
		r.run(t)
		if n := cnt.reset(); n != 0 {
			t.Fatalf("%s: the second read ran %d statements, want a hit", r.name, n)
		}
	}
}

// expectCleared checks, after a write, that each read of cleared runs
// statements again (a miss) and each of kept does not (still a hit).
func expectCleared(t *testing.T, cnt *stmtCounter, cleared, kept []cachedRead) {
	t.Helper()
	cnt.reset()
	for _, r := range kept {
		r.run(t)
		if n := cnt.reset(); n != 0 {
			t.Errorf("%s: the write cleared a read that does not depend on what it changed (%d statements)", r.name, n)
		}
	}
	for _, r := range cleared {
		r.run(t)
		if n := cnt.reset(); n == 0 {
			t.Errorf("%s: the cached read survived a write to a model it depends on", r.name)
		}
	}
}

// ok returns v, failing t with err.
func ok[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

var byID = []viborm.Order{viborm.Asc("id")}

func TestUpdatingAPostClearsUsersWithTheirPostsButNotUsers(t *testing.T) {
	forEachCacheDriver(t, updatingAPost)
}

func updatingAPost(t *testing.T, kind string) {
	ctx := context.Background()
	db, c, cnt, b := relInvalEnv(t, kind)
	usersWithPosts := func(t *testing.T) []RUser {
		return ok(RUsers.FindMany(ctx, c, viborm.FindMany{OrderBy: byID, Include: viborm.Include{"posts": {OrderBy: byID}}}))(t)
	}
	withPosts := cachedRead{"users with their posts", func(t *testing.T) any { return usersWithPosts(t) }}
	users := cachedRead{"users", func(t *testing.T) any {
		return ok(RUsers.FindMany(ctx, c, viborm.FindMany{OrderBy: byID}))(t)
	}}
	counted := cachedRead{"users with their post counts", func(t *testing.T) any {
		return ok(RUsers.FindMany(ctx, c, viborm.FindMany{OrderBy: byID, Count: viborm.CountRel{"posts": nil}}))(t)
	}}
	comments := cachedRead{"comments", func(t *testing.T) any {
		return ok(RComments.FindMany(ctx, c, viborm.FindMany{OrderBy: byID}))(t)
	}}
	warm(t, cnt, []cachedRead{withPosts, users, counted, comments})
	if _, err := RPosts.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": b.posts[0].ID}, Data: viborm.Data{"title": "renamed"}}); err != nil {
		t.Fatal(err)
	}
	expectCleared(t, cnt, []cachedRead{withPosts, counted}, []cachedRead{users, comments})
	if got := usersWithPosts(t)[0].Posts[0].Title; got != "renamed" {
		t.Fatalf("users with their posts after the update: first post %q, want renamed", got)
	}
}

// A relation filter on posts makes a users read depend on post.
func TestRelationFilterMakesAReadDependOnTheFilteredModel(t *testing.T) {
	forEachCacheDriver(t, relationFilterDeps)
}

func relationFilterDeps(t *testing.T, kind string) {
	ctx := context.Background()
	db, c, cnt, b := relInvalEnv(t, kind)
	filter := viborm.FindMany{OrderBy: byID, Where: viborm.Where{"posts": viborm.Some(viborm.Where{"title": "b0"})}}
	withB0 := func(t *testing.T) []RUser { return ok(RUsers.FindMany(ctx, c, filter))(t) }
	filtered := cachedRead{"users with a post titled b0", func(t *testing.T) any { return withB0(t) }}
	users := cachedRead{"users", func(t *testing.T) any {
		return ok(RUsers.FindMany(ctx, c, viborm.FindMany{OrderBy: byID}))(t)
	}}
	warm(t, cnt, []cachedRead{filtered, users})
	if got := withB0(t); len(got) != 1 || got[0].Name != "bob" {
		t.Fatalf("users with a post titled b0 = %+v, want bob", got)
	}
	// cat's first post is titled b0: cat now matches the filter.
	if _, err := RPosts.Create(ctx, db, viborm.Create{Data: viborm.Data{"title": "b0", "authorId": b.users[2].ID}}); err != nil {
		t.Fatal(err)
	}
	expectCleared(t, cnt, []cachedRead{filtered}, []cachedRead{users})
	if got := withB0(t); len(got) != 2 || got[1].Name != "cat" {
		t.Fatalf("users with a post titled b0 after the create = %+v, want bob and cat", got)
	}
}

// A write whose foreign-key actions change other models (ON DELETE CASCADE,
// SET NULL) clears the reads that depend on those models too, and keeps
// those that depend on none of them.
func TestCascadeClearsTheReadsThatDependOnCascadedModels(t *testing.T) {
	forEachCacheDriver(t, cascadeDeps)
}

func cascadeDeps(t *testing.T, kind string) {
	ctx := context.Background()
	db, c, cnt, b := relInvalEnv(t, kind)
	profiles := cachedRead{"profiles", func(t *testing.T) any {
		return ok(RProfiles.FindMany(ctx, c, viborm.FindMany{OrderBy: byID}))(t)
	}}
	tagsWithPosts := cachedRead{"tags with their posts", func(t *testing.T) any {
		return ok(RTags.FindMany(ctx, c, viborm.FindMany{OrderBy: byID, Include: viborm.Include{"posts": {OrderBy: byID}}}))(t)
	}}
	tags := cachedRead{"tags", func(t *testing.T) any {
		return ok(RTags.FindMany(ctx, c, viborm.FindMany{OrderBy: byID}))(t)
	}}
	commentAuthors := func(t *testing.T) []RComment {
		return ok(RComments.FindMany(ctx, c, viborm.FindMany{OrderBy: byID, Include: viborm.Include{"post": {Include: viborm.Include{"author": {}}}}}))(t)
	}
	withAuthors := cachedRead{"comments with their post's author", func(t *testing.T) any { return commentAuthors(t) }}
	comments := cachedRead{"comments", func(t *testing.T) any {
		return ok(RComments.FindMany(ctx, c, viborm.FindMany{OrderBy: byID}))(t)
	}}
	warm(t, cnt, []cachedRead{profiles, tagsWithPosts, tags, withAuthors, comments})
	if got := commentAuthors(t); got[0].Post == nil || got[0].Post.Author == nil || got[0].Post.Author.Name != "ann" {
		t.Fatalf("first comment's post author = %+v, want ann", got[0].Post)
	}
	// Deleting ann cascades to her profile and sets her posts' author
	// to NULL: profiles, posts and the reads through them go; tags and
	// comments themselves did not change.
	if _, err := RUsers.Delete(ctx, db, viborm.Delete{Where: viborm.Where{"id": b.users[0].ID}}); err != nil {
		t.Fatal(err)
	}
	expectCleared(t, cnt, []cachedRead{profiles, tagsWithPosts, withAuthors}, []cachedRead{tags, comments})
	if got := commentAuthors(t); got[0].Post == nil || got[0].Post.Author != nil {
		t.Fatalf("first comment's post after its author was deleted = %+v, want no author", got[0].Post)
	}
}

// Connecting a tag to a post writes only the junction table (and the tag):
// a read that goes through the many-to-many relation is cleared, one that
// does not is kept.
func TestManyToManyConnectClearsReadsThroughTheJunction(t *testing.T) {
	forEachCacheDriver(t, junctionDeps)
}

func junctionDeps(t *testing.T, kind string) {
	ctx := context.Background()
	db, c, cnt, b := relInvalEnv(t, kind)
	postTags := func(t *testing.T) []RUser {
		return ok(RUsers.FindMany(ctx, c, viborm.FindMany{OrderBy: byID, Include: viborm.Include{"posts": {OrderBy: byID, Include: viborm.Include{"tags": {OrderBy: byID}}}}}))(t)
	}
	withTags := cachedRead{"users with their posts' tags", func(t *testing.T) any { return postTags(t) }}
	users := cachedRead{"users", func(t *testing.T) any {
		return ok(RUsers.FindMany(ctx, c, viborm.FindMany{OrderBy: byID}))(t)
	}}
	warm(t, cnt, []cachedRead{withTags, users})
	if n := len(postTags(t)[0].Posts[2].Tags); n != 0 {
		t.Fatalf("post a2 has %d tags before the connect", n)
	}
	if _, err := RTags.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": b.tags[0].ID}, Data: viborm.Data{
		"posts": viborm.Connect(viborm.Where{"id": b.posts[2].ID}),
	}}); err != nil {
		t.Fatal(err)
	}
	expectCleared(t, cnt, []cachedRead{withTags}, []cachedRead{users})
	if got := postTags(t)[0].Posts[2].Tags; len(got) != 1 || got[0].Name != "go" {
		t.Fatalf("post a2's tags after the connect = %+v, want go", got)
	}
}

// Client.Invalidate of "<model>:*" clears the reads that depend on the
// model too, as auto-invalidation does.
func TestInvalidatingAModelPatternClearsItsDependents(t *testing.T) {
	forEachCacheDriver(t, patternDeps)
}

func patternDeps(t *testing.T, kind string) {
	ctx := context.Background()
	db, c, cnt, _ := relInvalEnv(t, kind)
	withPosts := cachedRead{"users with their posts", func(t *testing.T) any {
		return ok(RUsers.FindMany(ctx, c, viborm.FindMany{OrderBy: byID, Include: viborm.Include{"posts": {}}}))(t)
	}}
	users := cachedRead{"users", func(t *testing.T) any {
		return ok(RUsers.FindMany(ctx, c, viborm.FindMany{OrderBy: byID}))(t)
	}}
	warm(t, cnt, []cachedRead{withPosts, users})
	if err := db.Invalidate(ctx, "rpost:*"); err != nil {
		t.Fatal(err)
	}
	expectCleared(t, cnt, []cachedRead{withPosts}, []cachedRead{users})
}
