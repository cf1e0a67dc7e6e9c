package redisindex

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
)

// Leases (cache.Leaser) are memcached's, kept in Redis. The lease of a key
// is a string key of its own, holding the token, beside the data key: the
// entry at the data key keeps VibORM's format, so a TypeScript VibORM reader
// never sees a lease. Its name starts with the reserved index prefix (so no
// Clear removes it as an entry) and, on a cluster, carries the hash tag of
// the data key's slot (so every script below touches one slot). A lease is
// listed in the prefix indexes of its data key, in that slot, like an
// entry: the index-driven Clear unlinks it with the entries, which voids
// it, at no extra cost; the SCAN-driven Clear scans lease names too. Delete
// removes the leases of its keys with them.

// indexLua is a Lua function that lists member in the indexes KEYS[first:]
// for pttl milliseconds plus [Slack], as [SetScript] lists a key.
var indexLua = `
local function index(member, pttl, first)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local life = pttl + ` + strconv.FormatInt(Slack.Milliseconds(), 10) + `
  local score = string.format('%.0f', now + life)
  local past = '(' .. string.format('%.0f', now)
  for i = first, #KEYS do
    local idx = KEYS[i]
    redis.call('ZREMRANGEBYSCORE', idx, '-inf', past)
    redis.call('ZADD', idx, score, member)
    if redis.call('PTTL', idx) < life then redis.call('PEXPIRE', idx, life) end
  end
end
`

// LeaseScript takes the lease of a key unless one is held, and returns
// {1 if taken else 0, the data key's value or nil}, read in the same atomic
// step. KEYS[1] is the data key, KEYS[2] its lease key, KEYS[3:] the index
// keys of its prefixes (in its slot). ARGV: token, lease TTL in ms. The
// lease is indexed before it is written, as [SetScript] does for a key.
var LeaseScript = indexLua + `
local d = redis.call('GET', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then return {0, d} end
local pttl = tonumber(ARGV[2])
index(KEYS[2], pttl, 3)
redis.call('SET', KEYS[2], ARGV[1], 'PX', pttl)
return {1, d}
`

// SetLeasedScript stores a value under a key if and only if the key's lease
// still holds the token, ends the lease, and returns 1 if it stored. KEYS as
// for [LeaseScript]; ARGV: value, storage TTL in ms, token.
var SetLeasedScript = indexLua + `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 0 end
redis.call('DEL', KEYS[2])
for i = 3, #KEYS do redis.call('ZREM', KEYS[i], KEYS[2]) end
local pttl = tonumber(ARGV[2])
index(KEYS[1], pttl, 3)
redis.call('SET', KEYS[1], ARGV[1], 'PX', pttl)
return 1
`

// ReleaseScript ends the lease KEYS[1] if it holds the token ARGV[1]. Its
// index entries stay until they are trimmed; they name a missing key,
// which is harmless.
const ReleaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

// NewToken returns a fresh lease token: 128 random bits in hex.
func NewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// LeaseKey names the lease of key: "<NS>l:<key>" on a single node, and
// "<NS>l{<tag of key's slot>}<key>" on a cluster, in key's slot whatever
// braces key holds (the first '{' of the name is the tag's, and the tag has
// no '}').
func (l Layout) LeaseKey(key string) string {
	if !l.Cluster {
		return l.NS + "l:" + key
	}
	return l.NS + "l{" + SlotTag(Slot(key)) + "}" + key
}

// LeaseOf returns the data key of a lease key, and false for a name that is
// not a lease key of this layout.
func (l Layout) LeaseOf(lease string) (string, bool) {
	if !l.Cluster {
		return strings.CutPrefix(lease, l.NS+"l:")
	}
	rest, ok := strings.CutPrefix(lease, l.NS+"l{")
	if !ok {
		return "", false
	}
	i := strings.IndexByte(rest, '}')
	if i < 0 {
		return "", false
	}
	return rest[i+1:], true
}

// LeaseMatch returns the SCAN MATCH pattern of the lease keys of the keys
// starting with prefix. On a cluster it may match a few more (a key holding
// '}' then prefix): filter the names with [Layout.LeasesUnder].
func (l Layout) LeaseMatch(prefix string) string {
	if !l.Cluster {
		return MatchPrefix(l.NS + "l:" + prefix)
	}
	return globEscaper.Replace(l.NS+"l{") + "*" + globEscaper.Replace("}"+prefix) + "*"
}

// LeasesUnder filters, in place, the lease keys a SCAN with
// [Layout.LeaseMatch] returned to those of keys starting with prefix.
func (l Layout) LeasesUnder(leases []string, prefix string) []string {
	kept := leases[:0]
	for _, k := range leases {
		if key, ok := l.LeaseOf(k); ok && strings.HasPrefix(key, prefix) {
			kept = append(kept, k)
		}
	}
	return kept
}

// WithLeases returns the lease key of each of keys, then keys, for a Delete
// that voids their leases. Leases go first: once a lease is gone no fill can
// write its key, so a Delete split into several DELs never leaves a key
// written under a lease it voided. Each lease is in its key's slot.
func (l Layout) WithLeases(keys []string) []string {
	out := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		out = append(out, l.LeaseKey(k))
	}
	return append(out, keys...)
}

// LeaseKeys returns the KEYS of [LeaseScript] and [SetLeasedScript] for key
// (the key, its lease key, then the index of each of its prefixes unless
// the index is off), the prefixes, and key's slot (0 on a single node).
func (l Layout) LeaseKeys(key string) (keys, prefixes []string, sl int) {
	if l.Cluster {
		sl = Slot(key)
	}
	if !l.NoIndex {
		var buf [8]string
		prefixes = Prefixes(key, l.Depth, buf[:0])
	}
	keys = make([]string, 2, 2+len(prefixes))
	keys[0], keys[1] = key, l.LeaseKey(key)
	for _, p := range prefixes {
		keys = append(keys, l.IndexKey(p, sl))
	}
	return keys, prefixes, sl
}
