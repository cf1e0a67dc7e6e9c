package rueidiscache

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex"
)

// The lease scripts (see package cache/internal/redisindex).
var (
	leaseScript     = rueidis.NewLuaScript(redisindex.LeaseScript)
	setLeasedScript = rueidis.NewLuaScript(redisindex.SetLeasedScript)
	releaseScript   = rueidis.NewLuaScript(redisindex.ReleaseScript)
)

// errLeaseReply reports a lease script reply of an unexpected shape.
var errLeaseReply = errors.New("rueidiscache: unexpected reply of the lease script")

// Lease takes the lease of key for leaseTTL unless another is held (see
// [cache.Leaser]), and returns the entry stored under key, in one script.
// The lease is a key of its own beside the data key, in the same hash slot,
// listed in the prefix indexes like an entry, exactly as package rediscache
// keeps it. Bytes at key that are not an entry are reported as a miss.
func (d *Driver) Lease(ctx context.Context, key string, leaseTTL time.Duration) (string, cache.Entry, bool, error) {
	return d.layout.Lease(ctx, key, leaseTTL, d.register, func(ctx context.Context, keys []string, tok string) (bool, []byte, bool, error) {
		res, err := leaseScript.Exec(ctx, d.client, keys, []string{tok, strconv.FormatInt(millis(leaseTTL), 10)}).ToArray()
		if err != nil {
			return false, nil, false, err
		}
		if len(res) != 2 {
			return false, nil, false, errLeaseReply
		}
		n, err := res[0].AsInt64()
		won := err == nil && n == 1
		b, err := res[1].AsBytes() // an error for nil: a miss
		return won, b, err == nil, nil
	})
}

// SetLeased stores e under key for storageTTL, with its index entries, if
// and only if token still holds key's lease, and ends the lease; it reports
// whether it stored (see [cache.Leaser]).
func (d *Driver) SetLeased(ctx context.Context, key, token string, storageTTL time.Duration, e cache.Entry) (bool, error) {
	return d.layout.SetLeased(ctx, key, storageTTL, e, d.codec, d.register, func(ctx context.Context, keys []string, data []byte) (bool, error) {
		n, err := setLeasedScript.Exec(ctx, d.client, keys, []string{rueidis.BinaryString(data), strconv.FormatInt(millis(storageTTL), 10), token}).AsInt64()
		return n == 1, err
	})
}

// Release ends key's lease if token still holds it.
func (d *Driver) Release(ctx context.Context, key, token string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return releaseScript.Exec(ctx, d.client, []string{d.layout.LeaseKey(key)}, []string{token}).Error()
}
