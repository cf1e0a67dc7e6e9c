// Command otel traces VibORM with OpenTelemetry: an embedded SQLite
// database, the in-memory cache, and every span printed as JSON by the
// stdout exporter as it ends. A cached read misses (a lookup, the SELECT and
// the background fill are children of the findMany span), then hits (a
// lookup only); a write with auto-invalidation shows its statements and the
// invalidation. Statements are also logged with log/slog on stderr.
package main

import (
	"context"
	"log"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/otelviborm"
	"github.com/viborm/viborm-go/querylog"
	"github.com/viborm/viborm-go/s"
)

type User struct {
	ID     int64
	Email  string
	Active bool
}

var Users = viborm.Model[User]("user",
	s.BigInt("id").ID().Autoincrement(),
	s.String("email").Unique(),
	s.Boolean("active").Default(true),
	s.Table("users"),
)

func main() {
	ctx := context.Background()

	// Spans go to stdout as they end.
	exp, err := stdouttrace.New(stdouttrace.WithPrettyPrint())
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(ctx)

	// One hook for the client and the cache. Metrics go to the global
	// meter provider, a no-op until the program installs one.
	h, err := otelviborm.New(&otelviborm.Options{TracerProvider: tp, QueryText: true})
	if err != nil {
		log.Fatal(err)
	}
	mem, err := memorycache.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	opts := &cache.Options{WaitUntil: cache.Inline} // background fills run before the read returns
	h.InstrumentCache(opts)
	kv, err := cache.New(mem, opts)
	if err != nil {
		log.Fatal(err)
	}
	drv, err := sqlite.Open(":memory:")
	if err != nil {
		log.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := viborm.NewClient(viborm.Config{
		Models: []viborm.AnyModel{Users}, Driver: drv, Cache: kv,
		Hooks: []viborm.Hook{h, querylog.New(logger, nil)},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Push(ctx, nil); err != nil {
		log.Fatal(err)
	}

	if _, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "ada@example.com"}}); err != nil {
		log.Fatal(err)
	}
	cached := db.WithCache(viborm.CacheOptions{TTL: time.Minute})
	args := viborm.FindMany{Where: viborm.Where{"active": true}}
	for range 2 { // a miss, then a hit
		if _, err := Users.FindMany(ctx, cached, args); err != nil {
			log.Fatal(err)
		}
	}
	_, err = Users.Update(ctx, db, viborm.Update{
		Where: viborm.Where{"email": "ada@example.com"},
		Data:  viborm.Data{"active": false},
		Cache: &viborm.Invalidate{Auto: new(true)},
	})
	if err != nil {
		log.Fatal(err)
	}
}
