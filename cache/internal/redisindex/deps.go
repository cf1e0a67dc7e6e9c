package redisindex

import (
	"slices"
	"strconv"
)

// The dependency index ([cache.DepIndexer]) records, for each dependency
// tag, the keys whose entries depend on it, in sorted sets laid out like the
// prefix indexes: scored by the member's expiry on the server's clock (plus
// [Slack]), trimmed of members whose score has passed on every write, and
// expiring with their longest-lived member.
//
// On a single node a tag has one set, "<NS>d:<tag>". On a cluster it has one
// per hash slot, "<NS>d{<slot tag>}:<tag>", holding the keys of that slot
// only, so that one script indexes a key under all its tags atomically and
// one script removes a batch of keys, their leases and their records without
// CROSSSLOT. The slots that may hold a set of a tag are listed in the tag's
// registry "<NS>dr:<tag>", a set of slot numbers written before the member
// and extended, never shrunk, as the prefix registries are.
//
// The names cannot meet the other bookkeeping keys: those continue the
// reserved prefix with "i:", "i{", "r:", "l:" or "l{", these with "d:", "d{"
// or "dr:".

// IndexDepsScript records ARGV[1], a key, in the dependency sets KEYS (all
// in the key's slot on a cluster) for ARGV[2] milliseconds plus [Slack]. It
// writes nothing else: the entry is stored afterwards, by the driver's Set.
var IndexDepsScript = indexLua + `
index(ARGV[1], tonumber(ARGV[2]), 1)
return #KEYS
`

// ClearDepsScript removes up to ARGV[1] keys listed in the dependency set
// KEYS[1], with their lease keys (ARGV[2], the lease prefix of the set's
// slot, followed by the key: see [Layout.DepLeasePrefix]) and their records
// in the set, atomically. It returns how many records remain, followed by
// the keys it removed (records whose key was gone already included).
// Unlinking a lease voids it: a fill that holds it stores nothing.
const ClearDepsScript = `
local m = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #m > 0 then
  local del = {}
  for i = 1, #m do
    del[2 * i - 1] = ARGV[2] .. m[i]
    del[2 * i] = m[i]
  end
  redis.call('UNLINK', unpack(del))
  redis.call('ZREM', KEYS[1], unpack(m))
end
table.insert(m, 1, redis.call('ZCARD', KEYS[1]))
return m
`

// DepKey names the dependency set of tag in slot sl: "<NS>d:<tag>" on a
// single node (sl is ignored), "<NS>d{<slot tag>}:<tag>" on a cluster.
func (l Layout) DepKey(tag string, sl int) string {
	if !l.Cluster {
		return l.NS + "d:" + tag
	}
	return l.NS + "d{" + SlotTag(sl) + "}:" + tag
}

// DepRegistryKey names the set of slots that may hold a dependency set of
// tag (cluster only).
func (l Layout) DepRegistryKey(tag string) string { return l.NS + "dr:" + tag }

// DepKeys returns the KEYS of [IndexDepsScript] for key and its tags (the
// dependency set of each tag, in key's slot), and key's slot (0 on a single
// node). Repeated tags are listed once.
func (l Layout) DepKeys(key string, tags []string) (keys []string, sl int) {
	if l.Cluster {
		sl = Slot(key)
	}
	keys = make([]string, 0, len(tags))
	for i, t := range tags {
		if slices.Contains(tags[:i], t) {
			continue
		}
		keys = append(keys, l.DepKey(t, sl))
	}
	return keys, sl
}

// SlotDepKeys returns the dependency sets of tag in the slots listed by
// members, the members of its registry; members that are not slot numbers
// are skipped.
func (l Layout) SlotDepKeys(tag string, members []string) []string {
	keys := make([]string, 0, len(members))
	for _, m := range members {
		sl, err := strconv.Atoi(m)
		if err != nil || sl < 0 || sl >= NumSlots {
			continue // not ours
		}
		keys = append(keys, l.DepKey(tag, sl))
	}
	return keys
}

// DepLeasePrefix returns what [ClearDepsScript] puts before a key listed in
// the dependency set depKey to name its lease: [Layout.LeaseKey] of any key
// of that set is DepLeasePrefix(depKey) followed by the key.
func (l Layout) DepLeasePrefix(depKey string) string {
	if !l.Cluster {
		return l.NS + "l:"
	}
	return l.NS + "l{" + SlotTag(Slot(depKey)) + "}"
}

// Dedup sorts keys and removes repeated ones, in place.
func Dedup(keys []string) []string {
	slices.Sort(keys)
	return slices.Compact(keys)
}
