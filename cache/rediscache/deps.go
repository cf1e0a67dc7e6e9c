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
// [cache.DepIndexer]), in one script: on a single node in one sorted set per
// tag, on a cluster in the sets of the tags in key's hash slot, after
// registering the slot with each tag. See the package documentation,
// "Dependencies". The index is kept whatever [Options.NoIndex] says.
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
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, t := range tags {
		if t == "" {
			return errEmptyTag
		}
	}
	keys, err := d.depSets(ctx, tags)
	if err != nil {
		return err
	}
	for len(keys) > 0 {
		more, err := d.clearDepSets(ctx, keys)
		if err != nil {
			return err
		}
		keys = more
	}
	return nil
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
// and returns the sets that still hold records.
func (d *Driver) clearDepSets(ctx context.Context, keys []string) ([]string, error) {
	batch := redisindex.ClearBatch
	run := func(keys []string, sha bool) (more, missing []string, err error) {
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
			n, err := c.Int64()
			switch {
			case err == nil:
				if n > 0 {
					more = append(more, keys[i])
				}
			case sha && redis.HasErrorPrefix(err, "NOSCRIPT"):
				missing = append(missing, keys[i])
			default:
				return nil, nil, err
			}
		}
		return more, missing, nil
	}
	more, missing, err := run(keys, true)
	if err != nil || len(missing) == 0 {
		return more, err
	}
	more2, _, err := run(missing, false)
	return append(more, more2...), err
}
