package memorycache

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// depIndex is the driver's dependency index ([cache.DepIndexer]): for each
// tag the keys recorded under it, and for each key its record (its tags and
// when the record expires). One mutex guards both maps. ClearDeps and
// record eviction take shard locks while holding it; shard code never takes
// it, so the two cannot deadlock.
//
// Records are forgotten when ClearDeps removes their key, when they expire
// (a sweep over a sample of records runs every sweepEvery IndexDeps calls,
// as for entries), and when the index is full, by eviction: the sampled
// record that expires first goes, and its key's entry with it, since an
// entry must never outlive its record. A record whose entry was deleted,
// cleared or evicted lingers until then, which the contract allows.
type depIndex struct {
	mu     sync.Mutex
	tags   map[string]map[string]struct{} // tag → keys recorded under it
	recs   map[string]*depRec             // key → its record
	max    int                            // bound on len(recs)
	writes uint32
}

type depRec struct {
	tags    []string
	expires int64 // nanoseconds since Driver.base
}

func (x *depIndex) init(maxRecords int) {
	x.tags = make(map[string]map[string]struct{})
	x.recs = make(map[string]*depRec)
	x.max = maxRecords
}

// IndexDeps records key under each tag of deps for at least ttl (see
// [cache.DepIndexer]); a key indexed again keeps the union of its tags and
// the later expiry. When the index holds as many records as the driver may
// hold entries (twice MaxEntries), it first evicts one record with its
// entry. A ttl that is not positive records nothing.
func (d *Driver) IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	if ttl <= 0 || len(deps) == 0 {
		return nil
	}
	now := d.clock()
	expires := int64(math.MaxInt64)
	if ttl < time.Duration(math.MaxInt64-now) {
		expires = now + int64(ttl)
	}
	x := &d.deps
	x.mu.Lock()
	defer x.mu.Unlock()
	r := x.recs[key]
	if r != nil && now >= r.expires {
		x.forgetLocked(key, r)
		r = nil
	}
	if r == nil {
		if len(x.recs) >= x.max {
			d.evictRecordLocked(now)
		}
		r = &depRec{}
		x.recs[key] = r
	}
	for _, t := range deps {
		if slices.Contains(r.tags, t) {
			continue
		}
		r.tags = append(r.tags, t)
		set := x.tags[t]
		if set == nil {
			set = make(map[string]struct{})
			x.tags[t] = set
		}
		set[key] = struct{}{}
	}
	r.expires = max(r.expires, expires)
	x.writes++
	if x.writes%sweepEvery == 0 {
		x.sweepLocked(now)
	}
	return nil
}

// ClearDeps deletes the entry of every key recorded, by an unexpired record,
// under any of tags, and forgets those records (see [cache.DepIndexer]). It
// visits only those records: its cost is proportional to the entries
// removed times their tags, whatever else the driver holds. Unknown tags are
// ignored.
func (d *Driver) ClearDeps(ctx context.Context, tags []string) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	now := d.clock()
	x := &d.deps
	x.mu.Lock()
	defer x.mu.Unlock()
	var keys []string
	for _, t := range tags {
		for k := range x.tags[t] {
			r := x.recs[k]
			if now < r.expires {
				keys = append(keys, k)
			}
			x.forgetLocked(k, r)
		}
	}
	d.deleteKeys(keys)
	return nil
}

// forgetLocked removes key's record r from the index.
func (x *depIndex) forgetLocked(key string, r *depRec) {
	for _, t := range r.tags {
		if set := x.tags[t]; set != nil {
			delete(set, key)
			if len(set) == 0 {
				delete(x.tags, t)
			}
		}
	}
	delete(x.recs, key)
}

// evictRecordLocked forgets one record chosen by sampling, the first expired
// one seen or else the one that expires first, and deletes its key's entry.
func (d *Driver) evictRecordLocked(now int64) {
	x := &d.deps
	var (
		victim string
		vr     *depRec
		seen   int
	)
	for k, r := range x.recs { // Go randomizes where iteration starts
		if vr == nil || r.expires < vr.expires {
			victim, vr = k, r
		}
		if now >= r.expires {
			break
		}
		if seen++; seen >= evictSamples {
			break
		}
	}
	if vr == nil {
		return
	}
	x.forgetLocked(victim, vr)
	if now < vr.expires {
		d.deleteKeys([]string{victim})
	}
}

// sweepLocked forgets the expired records among a sample.
func (x *depIndex) sweepLocked(now int64) {
	var buf [sweepSamples]string
	for _, k := range expiredSample(&buf, x.recs, now, func(r *depRec) int64 { return r.expires }) {
		x.forgetLocked(k, x.recs[k])
	}
}

// deleteKeys removes the entries of keys, shard by shard.
func (d *Driver) deleteKeys(keys []string) {
	for _, k := range keys {
		s := d.shard(k)
		s.mu.Lock()
		if it, ok := s.items[k]; ok {
			s.removeLocked(k, it)
		}
		s.mu.Unlock()
	}
}

// depRecords returns the number of records in the index, for tests.
func (d *Driver) depRecords() (records, tags int) {
	d.deps.mu.Lock()
	defer d.deps.mu.Unlock()
	return len(d.deps.recs), len(d.deps.tags)
}
