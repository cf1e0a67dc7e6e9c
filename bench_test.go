package viborm_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/s"
)

// benchEnv returns a client on dialect with a cache on driver kind ("" for
// none) and n active users (plus n/2 inactive ones).
func benchEnv(b *testing.B, dialect, kind string, n int) *viborm.Client {
	b.Helper()
	var cfg viborm.Config
	if kind != "" {
		clk := newClock()
		kv, err := cache.New(newCacheDriver(b, kind, clk), &cache.Options{Version: "b" + suffix(), Now: clk.Now})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Cache = kv
	}
	db := newClient(b, dialect, cfg)
	seedUsers(b, db, n)
	return db
}

// benchFindUsers checks that a findMany of args through r reads n users,
// then measures it.
func benchFindUsers(b *testing.B, r viborm.Reader, args viborm.FindMany, n int) {
	b.Helper()
	ctx := context.Background()
	if got, err := Users.FindMany(ctx, r, args); err != nil || len(got) != n {
		b.Fatalf("%d rows, %v", len(got), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Users.FindMany(ctx, r, args); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead compares uncached and cached reads: findMany of 10 and 100
// rows ({where: {active: true}}) and findUnique by id, on SQLite and
// PostgreSQL, with the memory and Redis cache drivers. A cached read goes
// through the whole client: argument validation, key hashing, the cache and
// a copy of the result that the caller may mutate freely.
func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	type setup struct{ dialect, kind string }
	setups := []setup{{"sqlite", ""}, {"sqlite", "memory"}, {"sqlite", "memory-readonly"}, {"postgres", ""}, {"postgres", "memory"}, {"postgres", "redis"}}
	for _, n := range []int{10, 100} {
		for _, s := range setups {
			name := s.kind
			if name == "" {
				name = "uncached"
			}
			b.Run(fmt.Sprintf("findMany%d/%s/%s", n, s.dialect, name), func(b *testing.B) {
				kind, ro := strings.CutSuffix(s.kind, "-readonly")
				db := benchEnv(b, s.dialect, kind, n)
				var r viborm.Reader = db
				if kind != "" {
					r = db.WithCache(viborm.CacheOptions{TTL: time.Hour, ReadOnly: ro})
				}
				benchFindUsers(b, r, viborm.FindMany{Where: viborm.Where{"active": true}}, n)
			})
		}
	}
	for _, s := range setups {
		name := s.kind
		if name == "" {
			name = "uncached"
		}
		b.Run(fmt.Sprintf("findUnique/%s/%s", s.dialect, name), func(b *testing.B) {
			kind, ro := strings.CutSuffix(s.kind, "-readonly")
			db := benchEnv(b, s.dialect, kind, 10)
			var r viborm.Reader = db
			if kind != "" {
				r = db.WithCache(viborm.CacheOptions{TTL: time.Hour, ReadOnly: ro})
			}
			first, err := Users.FindFirstOrErr(ctx, db, viborm.FindMany{})
			if err != nil {
				b.Fatal(err)
			}
			args := viborm.FindUnique{Where: viborm.Where{"id": first.ID}}
			b.ReportAllocs()
			for b.Loop() {
				u, err := Users.FindUnique(ctx, r, args)
				if err != nil || u == nil {
					b.Fatal(u, err)
				}
			}
		})
	}
}

// Member is a lean row, the shape of the TypeScript peer's benchmark.
type Member struct {
	ID        int64
	Email     string
	Name      string
	Active    bool
	CreatedAt time.Time
}

var Members = viborm.Model[Member]("member",
	s.BigInt("id").ID().Autoincrement(),
	s.String("email").Unique(),
	s.String("name"),
	s.Boolean("active"),
	s.DateTime("createdAt").Now(),
)

// BenchmarkCachedHit measures a cached hit through the client on the memory
// driver, validation, key hashing and the defensive copy included, on a lean
// five-field model (the shape of the TypeScript peer's benchmark), beside
// the same findMany uncached on SQLite.
func BenchmarkCachedHit(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("findMany%d", n), func(b *testing.B) {
			clk := newClock()
			kv, _ := cache.New(newCacheDriver(b, "memory", clk), &cache.Options{Now: clk.Now})
			db := newClient(b, "sqlite", viborm.Config{Models: []viborm.AnyModel{Members}, Cache: kv})
			rows := make([]viborm.Data, n)
			for i := range rows {
				rows[i] = viborm.Data{"email": fmt.Sprintf("m%d@x", i), "name": "Member", "active": true}
			}
			Members.CreateMany(ctx, db, viborm.CreateMany{Data: rows})
			args := viborm.FindMany{Where: viborm.Where{"active": true}}
			for _, r := range []struct {
				name string
				r    viborm.Reader
			}{{"uncached", db}, {"cached", db.WithCache(viborm.CacheOptions{TTL: time.Hour})},
				{"readonly", db.WithCache(viborm.CacheOptions{TTL: time.Hour, ReadOnly: true})}} {
				b.Run(r.name, func(b *testing.B) {
					if got, err := Members.FindMany(ctx, r.r, args); err != nil || len(got) != n {
						b.Fatal(len(got), err)
					}
					b.ReportAllocs()
					for b.Loop() {
						if _, err := Members.FindMany(ctx, r.r, args); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
	b.Run("findUnique", func(b *testing.B) {
		clk := newClock()
		kv, _ := cache.New(newCacheDriver(b, "memory", clk), &cache.Options{Now: clk.Now})
		db := newClient(b, "sqlite", viborm.Config{Models: []viborm.AnyModel{Members}, Cache: kv})
		m, _ := Members.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "a@x", "name": "A", "active": true}})
		cached := db.WithCache(viborm.CacheOptions{TTL: time.Hour})
		args := viborm.FindUnique{Where: viborm.Where{"id": m.ID}}
		b.ReportAllocs()
		for b.Loop() {
			if u, err := Members.FindUnique(ctx, cached, args); err != nil || u == nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCachedHitAllocations pins what a cached hit allocates on the memory
// driver: the normalised query, the where's condition, the key, and the
// caller's copy of the rows (findMany: the slice; ReadOnly: nothing), and
// nothing else. A closure on the hit path, or a key built through an
// interface, shows here first.
func TestCachedHitAllocations(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	// Inline: the miss stores its entry before it returns.
	kv, err := cache.New(newCacheDriver(t, "memory", clk), &cache.Options{Now: clk.Now, WaitUntil: cache.Inline})
	if err != nil {
		t.Fatal(err)
	}
	db := newClient(t, "sqlite", viborm.Config{Models: []viborm.AnyModel{Members}, Cache: kv})
	m, err := Members.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "a@x", "name": "A", "active": true}})
	if err != nil {
		t.Fatal(err)
	}
	cached := db.WithCache(viborm.CacheOptions{TTL: time.Hour})
	readOnly := db.WithCache(viborm.CacheOptions{TTL: time.Hour, ReadOnly: true})
	many := viborm.FindMany{Where: viborm.Where{"active": true}}
	unique := viborm.FindUnique{Where: viborm.Where{"id": m.ID}}
	for _, c := range []struct {
		name string
		read func() error
		max  float64
	}{
		{"findUnique", func() error { _, err := Members.FindUnique(ctx, cached, unique); return err }, 4},
		{"findMany", func() error { _, err := Members.FindMany(ctx, cached, many); return err }, 4},
		{"findMany/readonly", func() error { _, err := Members.FindMany(ctx, readOnly, many); return err }, 3},
	} {
		if err := c.read(); err != nil { // the miss that fills the entry
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() {
			if err := c.read(); err != nil {
				t.Fatal(err)
			}
		}); n > c.max {
			t.Errorf("%s: a hit allocates %v times, want at most %v", c.name, n, c.max)
		}
	}
}
