package rediscache

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// indexSlack is added to an index member's score and to an index key's
// lifetime beyond the entry's storage TTL, so that rounding and the few
// microseconds between the script's TIME and its SET never let an index
// forget a key before Redis expires it.
const indexSlack = time.Second

// registryGrace is how much longer than the entry a cluster registry of
// slots lives. It absorbs clock differences between the registry's node and
// the entry's node and the delay between the two writes of a Set.
const registryGrace = time.Minute

// clearBatch is how many keys one run of the clear script removes.
const clearBatch = 1000

// setScript stores an entry and records it in the indexes of its prefixes,
// atomically. KEYS[1] is the key, KEYS[2:] its index keys, which must live
// in the key's hash slot on a cluster. ARGV: value, storage TTL in ms, "1" to
// store only when the key is absent (then it returns 0 when it did not).
//
// Index entries are written before the key, so that an error part way (say,
// an index key holding another type) can leave an index entry without a key,
// which is harmless, but never a key without its index entries. Each index
// is a sorted set scored by the member's expiry time on this server's clock
// (plus indexSlack): members whose score has passed are trimmed on every
// write, and the index key itself expires with its longest-lived member, so
// an index stays bounded by the keys that are still alive.
var setScript = redis.NewScript(`
local key = KEYS[1]
local pttl = tonumber(ARGV[2])
if ARGV[3] == '1' and redis.call('EXISTS', key) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local life = pttl + ` + strconv.FormatInt(indexSlack.Milliseconds(), 10) + `
local score = string.format('%.0f', now + life)
local past = '(' .. string.format('%.0f', now)
for i = 2, #KEYS do
  local idx = KEYS[i]
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', past)
  redis.call('ZADD', idx, score, key)
  if redis.call('PTTL', idx) < life then redis.call('PEXPIRE', idx, life) end
end
redis.call('SET', key, ARGV[1], 'PX', pttl)
return 1
`)

// clearScript removes up to ARGV[1] keys listed in the index KEYS[1], and
// their index entries, atomically, and returns how many entries remain.
// Because a key and its entry leave together, and setScript adds them
// together, the index never loses track of a live key.
var clearScript = redis.NewScript(`
local m = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #m > 0 then
  redis.call('UNLINK', unpack(m))
  redis.call('ZREM', KEYS[1], unpack(m))
end
return redis.call('ZCARD', KEYS[1])
`)

// indexPrefixes returns the prefixes of key that end with ':' and hold at
// most depth separators, shortest first: "a:b:c" gives "a:", "a:b:".
func indexPrefixes(key string, depth int, buf []string) []string {
	for i := 0; i < len(key) && len(buf) < depth; i++ {
		if key[i] == ':' {
			buf = append(buf, key[:i+1])
		}
	}
	return buf
}

// indexed reports whether Clear can serve prefix from the index: it ends with
// the separator and holds at most depth of them.
func (d *Driver) indexed(prefix string) bool {
	return !d.noIndex && strings.HasSuffix(prefix, ":") && strings.Count(prefix, ":") <= d.depth
}

// indexKey names the index of prefix. On a cluster there is one per hash
// slot, colocated with the keys it lists through a hash tag.
func (d *Driver) indexKey(prefix string, slot int) string {
	if d.cluster == nil {
		return d.ns + "i:" + prefix
	}
	return d.ns + "i{" + slotTags()[slot] + "}" + prefix
}

// registryKey names the set of slots that have an index of prefix (cluster
// only).
func (d *Driver) registryKey(prefix string) string { return d.ns + "r:" + prefix }

// setIndexed stores data under key with its index entries.
func (d *Driver) setIndexed(ctx context.Context, key string, ttl time.Duration, data []byte, nx bool) (bool, error) {
	var buf [8]string
	prefixes := indexPrefixes(key, d.depth, buf[:0])
	if len(prefixes) == 0 {
		if nx {
			return d.client.SetNX(ctx, key, data, ttl).Result()
		}
		return true, d.client.Set(ctx, key, data, ttl).Err()
	}
	keys := make([]string, 1, 1+len(prefixes))
	keys[0] = key
	sl := 0
	if d.cluster != nil {
		sl = slot(key)
		start := time.Now()
		if err := d.register(ctx, prefixes, sl, ttl); err != nil {
			return false, err
		}
		// The registries must outlive the key: should this Set have been
		// delayed for a good part of their grace, extend them again after.
		defer func() {
			if time.Since(start) > registryGrace/2 {
				_ = d.register(context.WithoutCancel(ctx), prefixes, sl, ttl)
			}
		}()
	}
	for _, p := range prefixes {
		keys = append(keys, d.indexKey(p, sl))
	}
	nxArg := "0"
	if nx {
		nxArg = "1"
	}
	n, err := setScript.Run(ctx, d.client, keys, data, ttl.Milliseconds(), nxArg).Int64()
	return n == 1, err
}

// register records, before a key is written on a cluster, that slot sl may
// hold keys under each prefix, for at least ttl plus registryGrace. Entries
// are never removed (only extended), so a Clear that starts after the key
// exists always finds its slot.
func (d *Driver) register(ctx context.Context, prefixes []string, sl int, ttl time.Duration) error {
	life := ttl + indexSlack + registryGrace
	s := strconv.Itoa(sl)
	cmds, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, pre := range prefixes {
			k := d.registryKey(pre)
			p.SAdd(ctx, k, s)
			p.Do(ctx, "PEXPIRE", k, life.Milliseconds(), "NX")
			p.Do(ctx, "PEXPIRE", k, life.Milliseconds(), "GT")
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
	keys := make([]string, 0, len(members))
	for _, m := range members {
		sl, err := strconv.Atoi(m)
		if err != nil || sl < 0 || sl >= numSlots {
			continue // not ours
		}
		keys = append(keys, d.indexKey(prefix, sl))
	}
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
	run := func(keys []string, sha bool) ([]string, error) {
		cmds := make([]*redis.Cmd, len(keys))
		_, _ = d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range keys {
				if sha {
					cmds[i] = script.EvalSha(ctx, p, []string{k}, args...)
				} else {
					cmds[i] = script.Eval(ctx, p, []string{k}, args...)
				}
			}
			return nil
		})
		var missing []string
		for i, c := range cmds {
			n, err := c.Int64()
			switch {
			case err == nil:
				out[keys[i]] = n
			case sha && redis.HasErrorPrefix(err, "NOSCRIPT"):
				missing = append(missing, keys[i])
			default:
				return nil, err
			}
		}
		return missing, nil
	}
	missing, err := run(keys, true)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		if _, err := run(missing, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}
