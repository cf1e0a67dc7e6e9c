package rediscache

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache/internal/redisindex"
)

// clearBatch is how many keys one run of the clear script, one SCAN step or
// one DEL handles (shared with the rueidis driver through package
// cache/internal/redisindex, which holds the index's layout and scripts).
const clearBatch = redisindex.ClearBatch

// setScript and clearScript are redisindex.SetScript and ClearScript.
var (
	setScript   = redis.NewScript(redisindex.SetScript)
	clearScript = redis.NewScript(redisindex.ClearScript)
)

// indexPrefixes returns the prefixes of key that the index lists it under.
func indexPrefixes(key string, depth int, buf []string) []string {
	return redisindex.Prefixes(key, depth, buf)
}

// indexed reports whether Clear can serve prefix from the index.
func (d *Driver) indexed(prefix string) bool { return d.layout.Indexed(prefix) }

// indexKey names the index of prefix (in slot sl, on a cluster).
func (d *Driver) indexKey(prefix string, sl int) string { return d.layout.IndexKey(prefix, sl) }

// registryKey names the set of slots that have an index of prefix (cluster
// only).
func (d *Driver) registryKey(prefix string) string { return d.layout.RegistryKey(prefix) }

// setIndexed stores data under key with its index entries.
func (d *Driver) setIndexed(ctx context.Context, key string, ttl time.Duration, data []byte, nx bool) (bool, error) {
	keys, prefixes, sl := d.layout.SetKeys(key)
	if len(keys) == 0 {
		if nx {
			return d.client.SetNX(ctx, key, data, ttl).Result()
		}
		return true, d.client.Set(ctx, key, data, ttl).Err()
	}
	if d.cluster != nil {
		after, err := redisindex.Register(ctx, func(ctx context.Context) error { return d.register(ctx, prefixes, sl, ttl) })
		if err != nil {
			return false, err
		}
		defer after()
	}
	nxArg := "0"
	if nx {
		nxArg = "1"
	}
	n, err := setScript.Run(ctx, d.client, keys, data, ttl.Milliseconds(), nxArg).Int64()
	return n == 1, err
}

// register records, before a key is written on a cluster, that slot sl may
// hold keys under each prefix, for at least ttl plus redisindex.RegistryGrace.
// Entries are never removed (only extended), so a Clear that starts after the
// key exists always finds its slot.
func (d *Driver) register(ctx context.Context, prefixes []string, sl int, ttl time.Duration) error {
	return d.registerIn(ctx, prefixes, d.registryKey, sl, ttl)
}

// registerIn adds slot sl to the registry reg(n) of each of names, in one
// pipeline, and extends each registry to live at least ttl plus
// redisindex.RegistryGrace (and never shortens it).
func (d *Driver) registerIn(ctx context.Context, names []string, reg func(string) string, sl int, ttl time.Duration) error {
	life := redisindex.RegistryLife(ttl).Milliseconds()
	s := strconv.Itoa(sl)
	cmds, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, n := range names {
			k := reg(n)
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

// clearIndexed removes the keys listed in the index of prefix.
func (d *Driver) clearIndexed(ctx context.Context, prefix string) error {
	if d.cluster == nil {
		key := []string{d.indexKey(prefix, 0)}
		for {
			n, err := clearScript.Run(ctx, d.client, key, clearBatch).Int64()
			if err != nil {
				return err
			}
			if n == 0 {
				return nil
			}
		}
	}
	members, err := d.client.SMembers(ctx, d.registryKey(prefix)).Result()
	if err != nil {
		return err
	}
	keys := d.layout.SlotIndexKeys(prefix, members)
	for len(keys) > 0 {
		remaining, err := d.runEach(ctx, clearScript, keys, clearBatch)
		if err != nil {
			return err
		}
		keys = keys[:0]
		for k, n := range remaining {
			if n > 0 {
				keys = append(keys, k)
			}
		}
	}
	return nil
}

// runEach runs script once per key (each its only KEYS entry) in one
// pipeline, falling back to EVAL for nodes that do not have it cached, and
// returns each integer reply by key.
func (d *Driver) runEach(ctx context.Context, script *redis.Script, keys []string, args ...any) (map[string]int64, error) {
	out := make(map[string]int64, len(keys))
	err := d.evalEach(ctx, script, keys, func(string) []any { return args }, func(k string, c *redis.Cmd) error {
		n, err := c.Int64()
		if err != nil {
			return err
		}
		out[k] = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// evalEach runs script once per key k (its only KEYS entry, with the
// arguments args(k)) in one pipeline (EVALSHA, then EVAL for the nodes that
// do not have the script cached), and hands each reply to reply, in the
// order of keys within each round, stopping at its first error.
func (d *Driver) evalEach(ctx context.Context, script *redis.Script, keys []string, args func(k string) []any, reply func(k string, c *redis.Cmd) error) error {
	run := func(keys []string, sha bool) ([]string, error) {
		cmds := make([]*redis.Cmd, len(keys))
		_, _ = d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				if sha {
					cmds[i] = script.EvalSha(ctx, p, []string{k}, args(k)...)
				} else {
					cmds[i] = script.Eval(ctx, p, []string{k}, args(k)...)
				}
			}
			return nil
		})
		var missing []string
		for i, c := range cmds {
			if sha && c.Err() != nil && redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
				missing = append(missing, keys[i])
				continue
			}
			if err := reply(keys[i], c); err != nil {
				return nil, err
			}
		}
		return missing, nil
	}
	missing, err := run(keys, true)
	if err == nil && len(missing) > 0 {
		_, err = run(missing, false)
	}
	return err
}
