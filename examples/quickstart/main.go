// Command quickstart shows the VibORM Go client end to end with no server:
// an embedded SQLite database, the in-memory cache, a schema of users and
// posts pushed, some rows, cached reads going miss → hit → stale →
// refreshed, a write that invalidates the cache, and an include whose cached
// read is cleared by a write to the included model.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/s"
)

type User struct {
	ID        int64
	Email     string
	Name      *string
	Active    bool
	CreatedAt time.Time
	Posts     []Post // filled by Include{"posts": …}; nil when not included
}

type Post struct {
	ID        string
	Title     string
	AuthorID  int64
	Published bool
}

var Users = viborm.Model[User]("user",
	s.BigInt("id").ID().Autoincrement(),
	s.String("email").Unique(),
	s.String("name").Nullable(),
	s.Boolean("active").Default(true),
	s.DateTime("createdAt").Now(),
	s.OneToMany("posts", "post"),
)

var Posts = viborm.Model[Post]("post",
	s.String("id").ID().ULID(),
	s.String("title"),
	s.BigInt("authorId"),
	s.Boolean("published").Default(false),
	s.ManyToOne("author", "user").Fields("authorId").References("id").OnDelete(s.Cascade),
)

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	drv, err := sqlite.Open(":memory:")
	if err != nil {
		return err
	}
	mem, err := memorycache.New(nil)
	if err != nil {
		return err
	}
	var outcome atomic.Value // the last cached read's outcome
	kv, err := cache.New(mem, &cache.Options{
		Observer: func(e cache.Event) { outcome.Store(e.Outcome) },
		// Run cache writes and SWR refreshes before the read returns, so the
		// output is deterministic. Leave it nil in a server: the cache then
		// uses goroutines of its own, and Close waits for them.
		WaitUntil: cache.Inline,
	})
	if err != nil {
		return err
	}
	db, err := viborm.NewClient(viborm.Config{Models: []viborm.AnyModel{Users, Posts}, Driver: drv, Cache: kv})
	if err != nil {
		return err
	}
	defer db.Close() // waits for background refreshes

	res, err := db.Push(ctx, nil)
	if err != nil {
		return err
	}
	fmt.Printf("pushed %d statements\n", len(res.Statements))

	for i, name := range []string{"Ada", "Grace", "Linus", "Barbara"} {
		u, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{
			"email": fmt.Sprintf("%s@example.com", name), "name": name, "active": i != 2}})
		if err != nil {
			return err
		}
		for j := range 3 {
			_, err := Posts.Create(ctx, db, viborm.Create{Data: viborm.Data{
				"title": fmt.Sprintf("%s's post #%d", name, j+1), "authorId": u.ID, "published": j%2 == 0}})
			if err != nil {
				return err
			}
		}
	}

	cached := db.WithCache(viborm.CacheOptions{TTL: 200 * time.Millisecond, SWR: true})
	active := viborm.FindMany{Where: viborm.Where{"active": true}, OrderBy: []viborm.Order{viborm.Asc("email")}}
	read := func(label string) ([]User, error) {
		start := time.Now()
		users, err := Users.FindMany(ctx, cached, active)
		if err != nil {
			return nil, err
		}
		fmt.Printf("%-34s %-6s %3d users  %10v\n", label, outcome.Load(), len(users), time.Since(start).Round(100*time.Nanosecond))
		return users, nil
	}

	if _, err := read("findMany active (cold)"); err != nil {
		return err
	}
	if _, err := read("findMany active (again)"); err != nil {
		return err
	}
	// Change the data behind the cache's back: the cache keeps answering.
	if _, err := db.ExecRaw(ctx, "UPDATE user SET active = 1"); err != nil {
		return err
	}
	if _, err := read("after a raw update (not seen)"); err != nil {
		return err
	}
	time.Sleep(250 * time.Millisecond) // let the 200ms TTL pass
	if _, err := read("after the TTL (stale, refreshing)"); err != nil {
		return err
	}
	if _, err := read("next read (refreshed)"); err != nil {
		return err
	}

	// A write with auto-invalidation clears every cached read of the model.
	_, err = Users.Update(ctx, db, viborm.Update{
		Where: viborm.Where{"email": "Ada@example.com"},
		Data:  viborm.Data{"active": false},
		Cache: &viborm.Invalidate{Auto: new(true)},
	})
	if err != nil {
		return err
	}
	if _, err := read("after update + auto-invalidate"); err != nil {
		return err
	}

	n, err := Posts.Count(ctx, cached, viborm.Count{Where: viborm.Where{"published": true}})
	if err != nil {
		return err
	}
	key, _ := Posts.CacheKey(cached, viborm.OpCount, viborm.Count{Where: viborm.Where{"published": true}})
	fmt.Printf("published posts: %d (cache key %s)\n", n, key)

	groups, err := Posts.GroupBy(ctx, cached, viborm.GroupBy{By: []string{"authorId"}, Count: []string{"_all"},
		OrderBy: []viborm.Order{viborm.Asc("authorId")}})
	if err != nil {
		return err
	}
	for _, g := range groups {
		fmt.Printf("author %v: %d posts\n", g.By["authorId"], g.Count["_all"])
	}

	// Relations: users with their published posts, last title first. One
	// query per relation level (Take and Skip would apply per user), cached as
	// one read that depends on both models.
	withPosts := viborm.FindMany{
		OrderBy: []viborm.Order{viborm.Asc("email")},
		Include: viborm.Include{"posts": {
			Where:   viborm.Where{"published": true},
			OrderBy: []viborm.Order{viborm.Desc("title")},
		}},
	}
	readPosts := func(label string) error {
		users, err := Users.FindMany(ctx, cached, withPosts)
		if err != nil {
			return err
		}
		fmt.Printf("%-34s %-6s", label, outcome.Load())
		for _, u := range users {
			fmt.Printf("  %s:%d", *u.Name, len(u.Posts))
		}
		fmt.Println()
		return nil
	}
	if err := readPosts("users with posts (cold)"); err != nil {
		return err
	}
	if err := readPosts("users with posts (again)"); err != nil {
		return err
	}
	// Publishing a post is a write to the post model: with auto-invalidation
	// it clears the cached reads that included posts, not only post reads.
	_, err = Posts.UpdateMany(ctx, db, viborm.UpdateMany{
		Where: viborm.Where{"published": false},
		Data:  viborm.Data{"published": true},
		Cache: &viborm.Invalidate{Auto: new(true)},
	})
	if err != nil {
		return err
	}
	return readPosts("after publishing every post")
}
