package rediscache

import (
	"context"
	"errors"
	"strconv"
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
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(deps) == 0 {
		return nil
	}
	for _, t := range deps {
		if t == "" {
			return errEmptyTag
		}
	}
	keys, sl := d.layout.DepKeys(key, deps)
	if d.cluster != nil {
		after, err := redisindex.Register(ctx, func(ctx context.Context) error { return d.registerDeps(ctx, deps, sl, ttl) })
		if err != nil {
			return err
		}
		defer after()
	}
	return indexDepsScript.Run(ctx, d.client, keys, key, millis(ttl)).Err()
}

// registerDeps records, before a key is indexed on a cluster, that slot sl
// may hold a dependency set of each tag, for at least ttl plus
// redisindex.RegistryGrace.
func (d *Driver) registerDeps(ctx context.Context, tags []string, sl int, ttl time.Duration) error {
	life := redisindex.RegistryLife(ttl).Milliseconds()
	s := strconv.Itoa(sl)
	cmds, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, t := range tags {
			k := d.layout.DepRegistryKey(t)
			p.SAdd(ctx, k, s)
			p.Do(ctx, "PEXPIRE", k, life, "NX")
			p.Do(ctx, "PEXPIRE", k, life, "GT")
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil && err != redis.Nil {
			return err
		}
	}
	return nil
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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, t := range tags {
		if t == "" {
			return nil, errEmptyTag
		}
	}
	keys, err := d.depSets(ctx, tags)
	if err != nil {
		return nil, err
	}
	var removed []string
	for len(keys) > 0 {
		var more []string
		more, removed, err = d.clearDepSets(ctx, keys, collect, removed)
		if err != nil {
			return nil, err
		}
		keys = more
	}
	return redisindex.Dedup(removed), nil
}

// depSets returns the dependency sets of tags: one per tag on a single
// node, one per registered slot on a cluster.
func (d *Driver) depSets(ctx context.Context, tags []string) ([]string, error) {
	if d.cluster == nil {
		keys, _ := d.layout.DepKeys("", tags)
		return keys, nil
	}
	cmds := make([]*redis.StringSliceCmd, len(tags))
	_, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, t := range tags {
			cmds[i] = p.SMembers(ctx, d.layout.DepRegistryKey(t))
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, err
	}
	var keys []string
	for i, c := range cmds {
		members, err := c.Result()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		keys = append(keys, d.layout.SlotDepKeys(tags[i], members)...)
	}
	return keys, nil
}

// clearDepSets runs the clear script once on each of keys, in one pipeline
// (EVALSHA, then EVAL for the nodes that do not have the script cached),
// and returns the sets that still hold records, and removed extended with
// the keys removed when collect is set.
func (d *Driver) clearDepSets(ctx context.Context, keys []string, collect bool, removed []string) (more, _ []string, _ error) {
	batch := redisindex.ClearBatch
	run := func(keys []string, sha bool) (missing []string, err error) {
		cmds := make([]*redis.Cmd, len(keys))
		_, _ = d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				args := []any{batch, d.layout.DepLeasePrefix(k)}
				if sha {
					cmds[i] = clearDepsScript.EvalSha(ctx, p, []string{k}, args...)
				} else {
					cmds[i] = clearDepsScript.Eval(ctx, p, []string{k}, args...)
				}
			}
			return nil
		})
		for i, c := range cmds {
			res, err := c.Slice()
			switch {
			case err == nil:
				if len(res) == 0 {
					return nil, errDepsReply
				}
				n, ok := res[0].(int64)
				if !ok {
					return nil, errDepsReply
				}
				if n > 0 {
					more = append(more, keys[i])
				}
				if collect {
					for _, m := range res[1:] {
						if s, ok := m.(string); ok {
							removed = append(removed, s)
						}
					}
				}
			case sha && redis.HasErrorPrefix(err, "NOSCRIPT"):
				missing = append(missing, keys[i])
			default:
				return nil, err
			}
		}
		return missing, nil
	}
	missing, err := run(keys, true)
	if err == nil && len(missing) > 0 {
		_, err = run(missing, false)
	}
	return more, removed, err
}

// errDepsReply reports a clear script reply of an unexpected shape.
var errDepsReply = errors.New("rediscache: unexpected reply of the dependency clear script")
