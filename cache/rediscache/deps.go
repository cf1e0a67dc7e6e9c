package rediscache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex"
)

var _ cache.DepIndexer = (*Driver)(nil)

// The dependency index scripts (see package cache/internal/redisindex).
var (
	indexDepsScript = redis.NewScript(redisindex.IndexDepsScript)
	clearDepsScript = redis.NewScript(redisindex.ClearDepsScript)
)

// errEmptyTag is returned for an empty dependency tag, which the
// [cache.DepIndexer] contract rules out.
var errEmptyTag = errors.New("rediscache: empty dependency tag")

// IndexDeps records key under each of deps for at least ttl (see
// [cache.DepIndexer]), in one script. Each tag has a sorted set of the keys
// recorded under it, scored by their expiry, trimmed of expired records on
// every write and expiring with its longest-lived record: on a single node
// one set, "<IndexPrefix>d:<tag>"; on a cluster one per hash slot,
// "<IndexPrefix>d{<slot tag>}:<tag>", holding the keys of that slot, whose
// slots are listed in the registry "<IndexPrefix>dr:<tag>", written before
// the record. Call it before storing the entry: a record without its entry
// is harmless, an entry without its record is not cleared by ClearDeps.
// The index is kept whatever [Options.NoIndex] says.
func (d *Driver) IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error {
	return d.layout.IndexDeps(ctx, key, deps, errEmptyTag,
		func(ctx context.Context, tags []string, sl int) error {
			return d.registerIn(ctx, tags, d.layout.DepRegistryKey, sl, ttl)
		},
		func(ctx context.Context, keys []string) error {
			return indexDepsScript.Run(ctx, d.client, keys, key, millis(ttl)).Err()
		})
}

// ClearDeps deletes every key recorded under any of tags, with its lease
// (voiding it), and forgets those records (see [cache.DepIndexer]). Each
// step is one script on one sorted set that removes up to a thousand keys,
// their leases and their records atomically, pipelined over the sets; on a
// cluster the sets are those of the slots each tag's registry lists. The
// cost is proportional to the records removed, and no command spans slots.
func (d *Driver) ClearDeps(ctx context.Context, tags []string) error {
	_, err := d.clearDeps(ctx, tags, false)
	return err
}

// ClearDepsKeys is [Driver.ClearDeps] that also returns the keys it
// removed (with those of records whose key was gone already), once each.
// The tiered driver uses it to drop exactly those keys from the
// in-process tiers of its instances.
func (d *Driver) ClearDepsKeys(ctx context.Context, tags []string) ([]string, error) {
	return d.clearDeps(ctx, tags, true)
}

func (d *Driver) clearDeps(ctx context.Context, tags []string, collect bool) ([]string, error) {
	return d.layout.ClearDeps(ctx, tags, errEmptyTag, d.registered,
		func(ctx context.Context, sets, removed []string) ([]string, []string, error) {
			return d.clearDepSets(ctx, sets, collect, removed)
		})
}

// registered returns the members of each of the registry keys regs, in
// one pipeline.
func (d *Driver) registered(ctx context.Context, regs []string) ([][]string, error) {
	cmds := make([]*redis.StringSliceCmd, len(regs))
	_, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range regs {
			cmds[i] = p.SMembers(ctx, k)
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, err
	}
	out := make([][]string, len(cmds))
	for i, c := range cmds {
		members, err := c.Result()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		out[i] = members
	}
	return out, nil
}

// clearDepSets runs the clear script once on each of keys, in one pipeline
// (EVALSHA, then EVAL for the nodes that do not have the script cached),
// and returns the sets that still hold records, and removed extended with
// the keys removed when collect is set.
func (d *Driver) clearDepSets(ctx context.Context, keys []string, collect bool, removed []string) (more, _ []string, _ error) {
	batch := redisindex.ClearBatch
	err := d.evalEach(ctx, clearDepsScript, keys, func(k string) []any {
		return []any{batch, d.layout.DepLeasePrefix(k)}
	}, func(k string, c *redis.Cmd) error {
		res, err := c.Slice()
		if err != nil {
			return err
		}
		if len(res) == 0 {
			return errDepsReply
		}
		n, ok := res[0].(int64)
		if !ok {
			return errDepsReply
		}
		if n > 0 {
			more = append(more, k)
		}
		if collect {
			for _, m := range res[1:] {
				if s, ok := m.(string); ok {
					removed = append(removed, s)
				}
			}
		}
		return nil
	})
	return more, removed, err
}

// errDepsReply reports a clear script reply of an unexpected shape.
var errDepsReply = errors.New("rediscache: unexpected reply of the dependency clear script")
