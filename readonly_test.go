package viborm_test

import (
	"context"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
)

// TestReadOnlyHitsShareTheCachedRows pins the contract of
// CacheOptions.ReadOnly: its hits return the rows the cache keeps (no
// copy), an append to them does not reach the cache, and the default
// handle's hits still share nothing with the cache or each other.
func TestReadOnlyHitsShareTheCachedRows(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	kv, err := cache.New(newCacheDriver(t, "memory", clk), &cache.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	db := newClient(t, "sqlite", viborm.Config{Models: []viborm.AnyModel{Members}, Cache: kv})
	for _, e := range []string{"a@x", "b@x", "c@x"} {
		if _, err := Members.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": e, "name": "M", "active": true}}); err != nil {
			t.Fatal(err)
		}
	}
	args := viborm.FindMany{Where: viborm.Where{"active": true}}
	ro := db.WithCache(viborm.CacheOptions{TTL: time.Hour, ReadOnly: true})
	def := db.WithCache(viborm.CacheOptions{TTL: time.Hour})
	miss, err := Members.FindMany(ctx, def, args)
	if err != nil || len(miss) != 3 {
		t.Fatal(len(miss), err)
	}
	h1, _ := Members.FindMany(ctx, def, args)
	h2, _ := Members.FindMany(ctx, def, args)
	if &h1[0] == &h2[0] || &h1[0] == &miss[0] {
		t.Fatal("default hits share their rows")
	}
	r1, _ := Members.FindMany(ctx, ro, args)
	r2, _ := Members.FindMany(ctx, ro, args)
	if len(r1) != 3 || &r1[0] != &r2[0] {
		t.Fatal("read-only hits do not share the cached rows")
	}
	grown := append(r1, Member{})
	if &grown[0] == &r1[0] {
		t.Fatal("an append to a read-only result wrote into the cache's memory")
	}
	if r3, _ := Members.FindMany(ctx, ro, args); len(r3) != 3 {
		t.Fatalf("%d rows after an append to a shared result", len(r3))
	}
}
