package rueidiscache_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/rueidiscache"
	"github.com/viborm/viborm-go/internal/testenv"
)

func BenchmarkExplore(b *testing.B) {
	b.Run("goredis-raw-GET", func(b *testing.B) {
		client, _, key := goRedisCache(b)
		runParallel50(b, func(ctx context.Context) error { return client.Get(ctx, key).Err() })
	})
	for _, tc := range []struct {
		name string
		mp   int
		fd   time.Duration
	}{{"default", 0, 0}, {"mp1", -1, 0}, {"fd50", 0, 50 * time.Microsecond}, {"fd100", 0, 100 * time.Microsecond}, {"mp1-fd50", -1, 50 * time.Microsecond}, {"mp1-fd100", -1, 100 * time.Microsecond}} {
		b.Run(tc.name, func(b *testing.B) {
			client := newClient(b, rueidis.ClientOption{InitAddress: []string{testenv.RedisAddr(b)}, SelectDB: testDB, PipelineMultiplex: tc.mp, MaxFlushDelay: tc.fd})
			ip := randomIndexPrefix()
			d, _ := rueidiscache.New(client, &rueidiscache.Options{IndexPrefix: ip})
			c, _ := benchCache(b, d, ip, func(keys []string) error { return d.Delete(context.Background(), keys) })
			runParallel50(b, func(ctx context.Context) error {
				_, err := cache.Load(ctx, c, benchKey, cache.Policy{TTL: time.Hour}, countMiss)
				return err
			})
		})
	}
}
