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
	if d.layout.Cluster {
		after, err := redisindex.Register(ctx, func(ctx context.Context) error { return d.registerDeps(ctx, deps, sl, ttl) })
		if err != nil {
			return err
		}
		defer after()
	}
	return indexDepsScript.Exec(ctx, d.client, keys, []string{key, strconv.FormatInt(millis(ttl), 10)}).Error()
}

// registerDeps records, before a key is indexed on a cluster, that slot sl
// may hold a dependency set of each tag, in one pipeline.
func (d *Driver) registerDeps(ctx context.Context, tags []string, sl int, ttl time.Duration) error {
	life := redisindex.RegistryLife(ttl).Milliseconds()
	s := strconv.Itoa(sl)
	cmds := make(rueidis.Commands, 0, 3*len(tags))
	for _, t := range tags {
		k := d.layout.DepRegistryKey(t)
		cmds = append(cmds,
			d.client.B().Sadd().Key(k).Member(s).Build(),
			d.client.B().Pexpire().Key(k).Milliseconds(life).Nx().Build(),
			d.client.B().Pexpire().Key(k).Milliseconds(life).Gt().Build())
	}
	return firstError(d.client.DoMulti(ctx, cmds...))
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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, t := range tags {
		if t == "" {
			return nil, errEmptyTag
		}
	}
	var keys []string
	if d.layout.Cluster {
		cmds := make(rueidis.Commands, len(tags))
		for i, t := range tags {
			cmds[i] = d.client.B().Smembers().Key(d.layout.DepRegistryKey(t)).Build()
		}
		for i, r := range d.client.DoMulti(ctx, cmds...) {
			members, err := r.AsStrSlice()
			if err != nil && !rueidis.IsRedisNil(err) {
				return nil, err
			}
			keys = append(keys, d.layout.SlotDepKeys(tags[i], members)...)
		}
	} else {
		keys, _ = d.layout.DepKeys("", tags)
	}
	batch := strconv.Itoa(redisindex.ClearBatch)
	var removed []string
	for len(keys) > 0 {
		var more []string
		for i, r := range d.runDeps(ctx, keys, batch) {
			res, err := r.ToArray()
			if err != nil {
				return nil, err
			}
			if len(res) == 0 {
				return nil, errDepsReply
			}
			n, err := res[0].AsInt64()
			if err != nil {
				return nil, errDepsReply
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
		keys = more
	}
	return redisindex.Dedup(removed), nil
}

// errDepsReply reports a clear script reply of an unexpected shape.
var errDepsReply = errors.New("rueidiscache: unexpected reply of the dependency clear script")

// runDeps runs the clear script once on each of keys, in one pipeline
// (which the client splits by node), and again with EVAL for the keys whose
// node does not have the script cached. It returns one result per key.
func (d *Driver) runDeps(ctx context.Context, keys []string, batch string) []rueidis.RedisResult {
	build := func(k string, sha bool) rueidis.Completed {
		lp := d.layout.DepLeasePrefix(k)
		if sha {
			return d.client.B().Evalsha().Sha1(clearDepsScriptSHA).Numkeys(1).Key(k).Arg(batch, lp).Build()
		}
		return d.client.B().Eval().Script(redisindex.ClearDepsScript).Numkeys(1).Key(k).Arg(batch, lp).Build()
	}
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = build(k, true)
	}
	out := d.client.DoMulti(ctx, cmds...)
	var retry []int
	for i, r := range out {
		if err, ok := rueidis.IsRedisErr(r.Error()); ok && err.IsNoScript() {
			retry = append(retry, i)
		}
	}
	if len(retry) == 0 {
		return out
	}
	cmds = cmds[:0]
	for _, i := range retry {
		cmds = append(cmds, build(keys[i], false))
	}
	for j, r := range d.client.DoMulti(ctx, cmds...) {
		out[retry[j]] = r
	}
	return out
}
