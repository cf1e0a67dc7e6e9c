package viborm_test

import (
	"context"
	"fmt"
	"log"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/s"
)

type ExUser struct {
	ID     int64
	Email  string
	Name   *string
	Active bool
}

var ExUsers = viborm.Model[ExUser]("user",
	s.BigInt("id").ID().Autoincrement(),
	s.String("email").Unique(),
	s.String("name").Nullable(),
	s.Boolean("active").Default(true),
)

func Example() {
	ctx := context.Background()
	drv, err := sqlite.Open(":memory:")
	if err != nil {
		log.Fatal(err)
	}
	mem, _ := memorycache.New(nil)
	kv, _ := cache.New(mem, &cache.Options{WaitUntil: cache.Inline})
	db, err := viborm.NewClient(viborm.Config{Models: []viborm.AnyModel{ExUsers}, Driver: drv, Cache: kv})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Push(ctx, nil); err != nil {
		log.Fatal(err)
	}
	for _, e := range []string{"ada@example.com", "bob@example.com"} {
		if _, err := ExUsers.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": e}}); err != nil {
			log.Fatal(err)
		}
	}
	cached := db.WithCache(viborm.CacheOptions{TTL: time.Minute})
	args := viborm.FindMany{Where: viborm.Where{"active": true}, OrderBy: []viborm.Order{viborm.Asc("email")}}
	users, err := ExUsers.FindMany(ctx, cached, args) // miss: runs the query
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(users), users[0].Email)

	// A write with auto-invalidation clears the model's cached reads.
	_, err = ExUsers.Update(ctx, db, viborm.Update{
		Where: viborm.Where{"email": "bob@example.com"},
		Data:  viborm.Data{"active": false},
		Cache: &viborm.Invalidate{Auto: new(true)},
	})
	if err != nil {
		log.Fatal(err)
	}
	users, _ = ExUsers.FindMany(ctx, cached, args)
	fmt.Println(len(users))

	key, _ := ExUsers.CacheKey(cached, viborm.OpFindMany, args)
	fmt.Println(key[:21])
	// Output:
	// 2 ada@example.com
	// 1
	// viborm:user:findMany:
}
