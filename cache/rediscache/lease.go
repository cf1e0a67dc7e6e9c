package rediscache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex"
)

// The lease scripts (see package cache/internal/redisindex).
var (
	leaseScript     = redis.NewScript(redisindex.LeaseScript)
	setLeasedScript = redis.NewScript(redisindex.SetLeasedScript)
	releaseScript   = redis.NewScript(redisindex.ReleaseScript)
)

// Lease takes the lease of key for leaseTTL unless another is held (see
// [cache.Leaser]), and returns the entry stored under key, in one script.
// The lease is a key of its own beside the data key, in the same hash slot,
// listed in the prefix indexes like an entry; see the package documentation,
// "Leases". Bytes at key that are not an entry are reported as a miss.
func (d *Driver) Lease(ctx context.Context, key string, leaseTTL time.Duration) (string, cache.Entry, bool, error) {
	return d.layout.Lease(ctx, key, leaseTTL, d.register, func(ctx context.Context, keys []string, tok string) (bool, []byte, bool, error) {
		res, err := leaseScript.Run(ctx, d.client, keys, tok, millis(leaseTTL)).Slice()
		if err != nil {
			return false, nil, false, err
		}
		if len(res) != 2 {
			return false, nil, false, errLeaseReply
		}
		n, _ := res[0].(int64)
		s, found := res[1].(string)
		return n == 1, []byte(s), found, nil
	})
}

// SetLeased stores e under key for storageTTL, with its index entries, if
// and only if token still holds key's lease, and ends the lease; it reports
// whether it stored (see [cache.Leaser]).
func (d *Driver) SetLeased(ctx context.Context, key, token string, storageTTL time.Duration, e cache.Entry) (bool, error) {
	return d.layout.SetLeased(ctx, key, storageTTL, e, d.codec, d.register, func(ctx context.Context, keys []string, data []byte) (bool, error) {
		n, err := setLeasedScript.Run(ctx, d.client, keys, data, millis(storageTTL), token).Int64()
		return n == 1, err
	})
}

// Release ends key's lease if token still holds it.
func (d *Driver) Release(ctx context.Context, key, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return releaseScript.Run(ctx, d.client, []string{d.layout.LeaseKey(key)}, token).Err()
}

// millis is a TTL in whole milliseconds, at least one.
func millis(ttl time.Duration) int64 { return max(ttl.Milliseconds(), 1) }

// errLeaseReply reports a lease script reply of an unexpected shape.
var errLeaseReply = errors.New("rediscache: unexpected reply of the lease script")
