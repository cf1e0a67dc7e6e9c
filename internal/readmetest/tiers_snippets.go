package readmetest

import (
	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/tiered"
)

// tieredExample is the README's two-tier block: an in-process L1 in front of
// Redis, kept coherent across instances by a Redis pub/sub bus.
func tieredExample(rdb redis.UniversalClient) (*cache.Cache, error) {
	// readme:begin tiered
	l2, err := rediscache.New(rdb, nil) // leases on: the cross-process fence
	if err != nil {
		return nil, err
	}
	bus, err := rediscache.NewBus(rdb, &rediscache.BusOptions{Channel: "myservice:viborm:invalidations"})
	if err != nil {
		return nil, err
	}
	d, err := tiered.New(l2, bus, &tiered.Options{
		L1: &memorycache.Options{MaxEntries: 10_000, MaxBytes: 32 << 20},
	})
	if err != nil {
		return nil, err
	}
	c, err := cache.New(d, nil) // c.Close() stops the subscription
	// readme:end tiered
	return c, err
}
