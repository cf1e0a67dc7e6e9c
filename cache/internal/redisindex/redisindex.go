// Package redisindex holds what VibORM's Redis drivers (rediscache over
// go-redis, rueidiscache over rueidis) share about the layout of their
// data: the Lua scripts that keep the prefix indexes, the names of the
// index and registry keys, Redis Cluster hash slots and the SCAN MATCH
// escaping of a prefix. Both drivers read and write the same keys the same
// way, so either can clear what the other stored.
//
// The design and its guarantees are described in the documentation of
// package rediscache, section "Clearing by prefix".
package redisindex

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// Defaults of the drivers' options.
const (
	DefaultPrefix = "viborm-index:"
	DefaultDepth  = 4
)

// Slack is added to an index member's score and to an index key's lifetime
// beyond the entry's storage TTL, so that rounding and the few microseconds
// between the script's TIME and its SET never let an index forget a key
// before Redis expires it.
const Slack = time.Second

// RegistryGrace is how much longer than the entry a cluster registry of
// slots lives. It absorbs clock differences between the registry's node and
// the entry's node and the delay between the two writes of a Set.
const RegistryGrace = time.Minute

// ClearBatch is how many keys one run of the clear script (or one SCAN
// step, or one DEL) handles.
const ClearBatch = 1000

// SetScript stores an entry and records it in the indexes of its prefixes,
// atomically. KEYS[1] is the key, KEYS[2:] its index keys, which must live
// in the key's hash slot on a cluster. ARGV: value, storage TTL in ms, "1" to
// store only when the key is absent (then it returns 0 when it did not).
//
// Index entries are written before the key, so that an error part way (say,
// an index key holding another type) can leave an index entry without a key,
// which is harmless, but never a key without its index entries. Each index
// is a sorted set scored by the member's expiry time on this server's clock
// (plus [Slack]): members whose score has passed are trimmed on every write,
// and the index key itself expires with its longest-lived member, so an
// index stays bounded by the keys that are still alive.
var SetScript = `
local key = KEYS[1]
local pttl = tonumber(ARGV[2])
if ARGV[3] == '1' and redis.call('EXISTS', key) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local life = pttl + ` + strconv.FormatInt(Slack.Milliseconds(), 10) + `
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
`

// ClearScript removes up to ARGV[1] keys listed in the index KEYS[1], and
// their index entries, atomically, and returns how many entries remain.
// Because a key and its entry leave together, and [SetScript] adds them
// together, the index never loses track of a live key.
const ClearScript = `
local m = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #m > 0 then
  redis.call('UNLINK', unpack(m))
  redis.call('ZREM', KEYS[1], unpack(m))
end
return redis.call('ZCARD', KEYS[1])
`

// Prefixes returns the prefixes of key that end with ':' and hold at most
// depth separators, shortest first, appended to buf: "a:b:c" gives "a:",
// "a:b:".
func Prefixes(key string, depth int, buf []string) []string {
	for i := 0; i < len(key) && len(buf) < depth; i++ {
		if key[i] == ':' {
			buf = append(buf, key[:i+1])
		}
	}
	return buf
}

// Layout names a driver's bookkeeping keys and decides which prefixes its
// index serves.
type Layout struct {
	NS      string // the index prefix, Options.IndexPrefix
	Depth   int    // Options.IndexDepth
	NoIndex bool   // Options.NoIndex
	Cluster bool   // the client is a Redis Cluster client
}

// NewLayout checks and resolves a driver's index options. pkg names the
// driver's package in the [*cache.ConfigError] it returns.
func NewLayout(pkg, indexPrefix string, depth int, noIndex, cluster bool) (Layout, error) {
	if indexPrefix == "" {
		indexPrefix = DefaultPrefix
	}
	if strings.ContainsAny(indexPrefix, "{}") {
		return Layout{}, &cache.ConfigError{Field: pkg + ".Options.IndexPrefix", Reason: "must not contain '{' or '}'"}
	}
	switch {
	case depth == 0:
		depth = DefaultDepth
	case depth < 0:
		return Layout{}, &cache.ConfigError{Field: pkg + ".Options.IndexDepth", Reason: "must not be negative"}
	}
	return Layout{NS: indexPrefix, Depth: depth, NoIndex: noIndex, Cluster: cluster}, nil
}

// Indexed reports whether Clear can serve prefix from the index: it ends
// with the separator and holds at most Depth of them.
func (l Layout) Indexed(prefix string) bool {
	return !l.NoIndex && strings.HasSuffix(prefix, ":") && strings.Count(prefix, ":") <= l.Depth
}

// IndexKey names the index of prefix. On a cluster there is one per hash
// slot, colocated with the keys it lists through a hash tag; sl is ignored
// on a single node.
func (l Layout) IndexKey(prefix string, sl int) string {
	if !l.Cluster {
		return l.NS + "i:" + prefix
	}
	return l.NS + "i{" + SlotTag(sl) + "}" + prefix
}

// RegistryKey names the set of slots that have an index of prefix (cluster
// only).
func (l Layout) RegistryKey(prefix string) string { return l.NS + "r:" + prefix }

// SetKeys returns the KEYS of [SetScript] for key (the key, then the index
// of each of its prefixes), the prefixes, and key's slot (0 on a single
// node). With no prefix to index, keys is nil: a plain SET does.
func (l Layout) SetKeys(key string) (keys, prefixes []string, sl int) {
	var buf [8]string
	prefixes = Prefixes(key, l.Depth, buf[:0])
	if len(prefixes) == 0 {
		return nil, nil, 0
	}
	if l.Cluster {
		sl = Slot(key)
	}
	keys = make([]string, 1, 1+len(prefixes))
	keys[0] = key
	for _, p := range prefixes {
		keys = append(keys, l.IndexKey(p, sl))
	}
	return keys, prefixes, sl
}

// RegistryLife is how long a registry entry written for an entry stored for
// ttl must live.
func RegistryLife(ttl time.Duration) time.Duration { return ttl + Slack + RegistryGrace }

// SlotIndexKeys returns the index keys of prefix in the slots listed by
// members, the members of its registry; members that are not slot numbers
// are skipped.
func (l Layout) SlotIndexKeys(prefix string, members []string) []string {
	keys := make([]string, 0, len(members))
	for _, m := range members {
		sl, err := strconv.Atoi(m)
		if err != nil || sl < 0 || sl >= NumSlots {
			continue // not ours
		}
		keys = append(keys, l.IndexKey(prefix, sl))
	}
	return keys
}

// Scanned filters the keys a SCAN for prefix returned, in place: MATCH is
// exact once escaped, and the check guards the reserved namespace.
func (l Layout) Scanned(keys []string, prefix string) []string {
	kept := keys[:0]
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) && !strings.HasPrefix(k, l.NS) {
			kept = append(kept, k)
		}
	}
	return kept
}

// globEscaper escapes the bytes Redis's glob matcher (used by SCAN MATCH and
// KEYS) treats specially, so that a prefix matches only itself.
var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)

// MatchPrefix returns the SCAN MATCH pattern that matches exactly the keys
// starting with prefix: prefix with * ? [ ] and \ escaped, then "*".
func MatchPrefix(prefix string) string { return globEscaper.Replace(prefix) + "*" }

// Register runs register, which records a cluster Set's slot in the
// registries of its prefixes, before the Set writes its key, and returns a
// function to defer after the write: should the Set have been delayed for a
// good part of [RegistryGrace], it extends the registries again, so that
// they outlive the key.
func Register(ctx context.Context, register func(context.Context) error) (after func(), err error) {
	start := time.Now()
	if err := register(ctx); err != nil {
		return nil, err
	}
	return func() {
		if time.Since(start) > RegistryGrace/2 {
			_ = register(context.WithoutCancel(ctx))
		}
	}, nil
}
