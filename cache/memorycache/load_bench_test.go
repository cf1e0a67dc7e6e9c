package memorycache_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
)

// findManyArgs are arguments the size of a typical findMany: a where map of
// three fields, an orderBy and a take.
func findManyArgs() map[string]any {
	return map[string]any{
		"where": map[string]any{
			"active": true,
			"role":   "admin",
			"age":    map[string]any{"gte": 18},
		},
		"orderBy": map[string]any{"createdAt": "desc"},
		"take":    20,
	}
}

type benchUser struct {
	ID     int
	Name   string
	Active bool
}

// BenchmarkHit measures a cache hit through the full typed read, key hashing
// included, beside a bare sync.Map lookup of the same key.
func BenchmarkHit(b *testing.B) {
	ctx := context.Background()
	rows := []benchUser{{1, "a", true}, {2, "b", true}}
	load := func(context.Context) ([]benchUser, error) { return rows, nil }

	b.Run("cache.Load+Key", func(b *testing.B) {
		d, err := memorycache.New(nil)
		if err != nil {
			b.Fatal(err)
		}
		c, err := cache.New(d, &cache.Options{WaitUntil: cache.Inline})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		args := findManyArgs()
		p := cache.Policy{TTL: time.Hour}
		key, _ := c.Key("user", "findMany", args)
		if _, err := cache.Load(ctx, c, key, p, load); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			key, err := c.Key("user", "findMany", args)
			if err != nil {
				b.Fatal(err)
			}
			v, err := cache.Load(ctx, c, key, p, load)
			if err != nil || len(v) != 2 {
				b.Fatal(err)
			}
		}
	})
	b.Run("cache.Load", func(b *testing.B) {
		d, _ := memorycache.New(nil)
		c, _ := cache.New(d, &cache.Options{WaitUntil: cache.Inline})
		defer c.Close()
		p := cache.Policy{TTL: time.Hour}
		key, _ := c.Key("user", "findMany", findManyArgs())
		cache.Load(ctx, c, key, p, load)
		b.ReportAllocs()
		for b.Loop() {
			v, err := cache.Load(ctx, c, key, p, load)
			if err != nil || len(v) != 2 {
				b.Fatal(err)
			}
		}
	})
	b.Run("Key", func(b *testing.B) {
		args := findManyArgs()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cache.Key("user", "findMany", args, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("KeyCompat", func(b *testing.B) {
		args := findManyArgs()
		opts := &cache.KeyOptions{Compat: true}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cache.Key("user", "findMany", args, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare-sync.Map", func(b *testing.B) {
		var m sync.Map
		key, _ := cache.Key("user", "findMany", findManyArgs(), nil)
		m.Store(key, rows)
		b.ReportAllocs()
		for b.Loop() {
			v, ok := m.Load(key)
			if !ok || len(v.([]benchUser)) != 2 {
				b.Fatal("miss")
			}
		}
	})
	b.Run("bare-driver.Get", func(b *testing.B) {
		d, _ := memorycache.New(nil)
		key, _ := cache.Key("user", "findMany", findManyArgs(), nil)
		d.Set(ctx, key, time.Hour, cache.NewEntry(rows, time.Now(), time.Hour))
		b.ReportAllocs()
		for b.Loop() {
			e, ok, err := d.Get(ctx, key)
			if err != nil || !ok || len(e.Value.([]benchUser)) != 2 {
				b.Fatal("miss")
			}
		}
	})
}
