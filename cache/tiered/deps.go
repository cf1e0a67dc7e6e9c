package tiered

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// The dependency index (cache.DepIndexer) is L2's: L1 keeps no records.
// ClearDeps clears L2 and then drops the affected keys from every
// instance's L1, by one of two means:
//
//   - When L2 reports the keys it removed (rediscache and rueidiscache do,
//     through a ClearDepsKeys method), the Driver drops exactly those keys
//     from its own L1, moving their fill fences as Delete does, and
//     publishes them: every other instance drops them too. Above
//     [MaxPublishedKeys] keys, or when L2 failed part way, it falls back to
//     the second means.
//   - Otherwise it drops its whole L1 before and after clearing L2 (moving
//     the global fence, as Clear does), and publishes the empty prefix,
//     which every instance, whatever its version, applies by dropping its
//     whole L1. L1 then refills from L2, one read per key.

// MaxPublishedKeys bounds the keys one ClearDeps publishes by name; beyond
// it, every instance drops its whole L1 instead.
const MaxPublishedKeys = 10000

var _ cache.DepIndexer = (*Driver)(nil)

// depOfferer is the method of a DepIndexer that offers the index only in
// some configurations, as [cache.LeaseOfferer] is for leases; this Driver
// has it too.
type depOfferer interface{ OffersDeps() bool }

// depKeysClearer is implemented by an L2 whose ClearDeps can also return
// the keys it removed.
type depKeysClearer interface {
	ClearDepsKeys(ctx context.Context, tags []string) ([]string, error)
}

// errNoDeps is the error of the dependency methods when L2 has no index.
var errNoDeps = fmt.Errorf("tiered: the L2 driver does not implement cache.DepIndexer: %w", errors.ErrUnsupported)

// l2Deps returns L2's dependency index, nil when it has none or does not
// offer it.
func (d *Driver) l2Deps() cache.DepIndexer {
	di, ok := d.l2.(cache.DepIndexer)
	if !ok {
		return nil
	}
	if o, ok := d.l2.(depOfferer); ok && !o.OffersDeps() {
		return nil
	}
	return di
}

// OffersDeps reports whether L2 offers a dependency index
// ([cache.DepIndexer]): then the Driver forwards to it. Without one,
// IndexDeps fails with an error matching [errors.ErrUnsupported], so that
// nothing is stored that depends on a record, and ClearDeps, having no
// record to clear, does nothing.
func (d *Driver) OffersDeps() bool { return d.l2Deps() != nil }

// IndexDeps records key under deps in L2 (see [cache.DepIndexer]).
func (d *Driver) IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	di := d.l2Deps()
	if di == nil {
		return errNoDeps
	}
	return di.IndexDeps(ctx, key, deps, ttl)
}

// ClearDeps deletes from L2 every key recorded under any of tags (see
// [cache.DepIndexer]), then drops those keys from the L1 of this instance
// and, through the bus, of every other: exactly those keys when L2 reports
// them (at most [MaxPublishedKeys]), every key otherwise. A failed publish
// returns an error matching [ErrPublish]. Without an index in L2 it does
// nothing: no record was made.
//
// When another instance clears one of the same tags at the same moment,
// L2 hands each key to one of the two clears only: the other instance's
// message, not this call, then drops it from this instance's L1, as it
// drops it from every other's.
func (d *Driver) ClearDeps(ctx context.Context, tags []string) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	di := d.l2Deps()
	if di == nil || len(tags) == 0 {
		return nil
	}
	var err error
	if kc, ok := di.(depKeysClearer); ok {
		var keys []string
		keys, err = kc.ClearDepsKeys(ctx, tags)
		if err == nil && len(keys) <= MaxPublishedKeys {
			if len(keys) == 0 {
				return nil
			}
			d.bumpKeys(keys)
			return d.publish(ctx, Invalidation{Source: d.id, Keys: keys})
		}
	} else {
		d.bumpPrefixes(everything)
		err = di.ClearDeps(ctx, tags)
	}
	d.bumpPrefixes(everything)
	return errors.Join(err, d.publish(ctx, Invalidation{Source: d.id, Prefixes: everything}))
}

// everything is the prefix of every key: as an invalidation it drops the
// whole of L1.
var everything = []string{""}
