package rueidiscache

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex"
)

var _ cache.DepIndexer = (*Driver)(nil)

// The dependency index scripts (see package cache/internal/redisindex).
var (
	indexDepsScript    = rueidis.NewLuaScript(redisindex.IndexDepsScript)
	clearDepsScriptSHA = func() string {
		h := sha1.Sum([]byte(redisindex.ClearDepsScript))
		return hex.EncodeToString(h[:])
	}()
)

// errEmptyTag is returned for an empty dependency tag, which the
// [cache.DepIndexer] contract rules out.
var errEmptyTag = errors.New("rueidiscache: empty dependency tag")

// IndexDeps records key under each of deps for at least ttl (see
// [cache.DepIndexer]), in one script, exactly as package rediscache does:
// on a single node in one sorted set per tag, on a cluster in the sets of
// the tags in key's hash slot, after registering the slot with each tag.
// The index is kept whatever [Options.NoIndex] says.
func (d *Driver) IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error {
	return d.layout.IndexDeps(ctx, key, deps, errEmptyTag,
		func(ctx context.Context, tags []string, sl int) error {
			return d.registerIn(ctx, tags, d.layout.DepRegistryKey, sl, ttl)
		},
		func(ctx context.Context, keys []string) error {
			return indexDepsScript.Exec(ctx, d.client, keys, []string{key, strconv.FormatInt(millis(ttl), 10)}).Error()
		})
}

// ClearDeps deletes every key recorded under any of tags, with its lease
// (voiding it), and forgets those records (see [cache.DepIndexer]), as
// package rediscache does: one script per sorted set and batch of a
// thousand keys, pipelined over the sets (those of the slots each tag's
// registry lists, on a cluster). The cost is proportional to the records
// removed, and no command spans slots.
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
	batch := strconv.Itoa(redisindex.ClearBatch)
	return d.layout.ClearDeps(ctx, tags, errEmptyTag, d.registered,
		func(ctx context.Context, keys, removed []string) (more, _ []string, _ error) {
			for i, r := range d.runDeps(ctx, keys, batch) {
				res, err := r.ToArray()
				if err != nil {
					return nil, nil, err
				}
				if len(res) == 0 {
					return nil, nil, errDepsReply
				}
				n, err := res[0].AsInt64()
				if err != nil {
					return nil, nil, errDepsReply
				}
				if n > 0 {
					more = append(more, keys[i])
				}
				if collect {
					for _, m := range res[1:] {
						if s, err := m.ToString(); err == nil {
							removed = append(removed, s)
						}
					}
				}
			}
			return more, removed, nil
		})
}

// registered returns the members of each of the registry keys regs, in
// one pipeline.
func (d *Driver) registered(ctx context.Context, regs []string) ([][]string, error) {
	cmds := make(rueidis.Commands, len(regs))
	for i, k := range regs {
		cmds[i] = d.client.B().Smembers().Key(k).Build()
	}
	out := make([][]string, len(regs))
	for i, r := range d.client.DoMulti(ctx, cmds...) {
		members, err := r.AsStrSlice()
		if err != nil && !rueidis.IsRedisNil(err) {
			return nil, err
		}
		out[i] = members
	}
	return out, nil
}

// errDepsReply reports a clear script reply of an unexpected shape.
var errDepsReply = errors.New("rueidiscache: unexpected reply of the dependency clear script")

// runDeps runs the clear script once on each of keys (see runEach), and
// returns one result per key.
func (d *Driver) runDeps(ctx context.Context, keys []string, batch string) []rueidis.RedisResult {
	return d.runEachArgs(ctx, clearDepsScriptSHA, redisindex.ClearDepsScript, keys, func(k string) []string {
		return []string{batch, d.layout.DepLeasePrefix(k)}
	})
}
