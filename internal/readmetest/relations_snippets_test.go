package readmetest

import (
	"context"
	"testing"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/driver/sqlite"
)

// TestReadmeRelationsExample runs the README's relations block: the nested
// create connects the author, the filtered include loads it back.
func TestReadmeRelationsExample(t *testing.T) {
	ctx := context.Background()
	drv, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memorycache.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := cache.New(mem, &cache.Options{WaitUntil: cache.Inline})
	if err != nil {
		t.Fatal(err)
	}
	db, err := viborm.NewClient(viborm.Config{Models: []viborm.AnyModel{Users, Posts}, Driver: drv, Cache: kv})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Push(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ada, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "ada@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "bob@example.com"}}); err != nil {
		t.Fatal(err)
	}
	users, err := relationsExample(ctx, db, db.WithCache(viborm.CacheOptions{}), ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].ID != ada.ID || len(users[0].Posts) != 1 {
		t.Fatalf("got %+v, want ada with her one post", users)
	}
	p := users[0].Posts[0]
	if p.Title != "Relations" || p.Author == nil || p.Author.ID != ada.ID {
		t.Fatalf("post = %+v, want Relations by ada", p)
	}
}
