package cachetest_test

import (
	"context"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// The test driver's dependency index (cache.DepIndexer): records kept under
// the map's lock, each with its expiry; ClearDeps deletes the keys of the
// unexpired ones, voids their leases and forgets them.

var _ cache.DepIndexer = (*mapDriver)(nil)

func (d *mapDriver) IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.deps == nil {
		d.deps = map[string]map[string]time.Time{}
	}
	exp := d.now().Add(ttl)
	for _, t := range deps {
		if d.deps[t] == nil {
			d.deps[t] = map[string]time.Time{}
		}
		if exp.After(d.deps[t][key]) {
			d.deps[t][key] = exp
		}
	}
	return nil
}

func (d *mapDriver) ClearDeps(ctx context.Context, tags []string) error {
	return d.clearDeps(ctx, tags, true, true)
}

func (d *mapDriver) clearDeps(ctx context.Context, tags []string, voidLeases, forget bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, t := range tags {
		for k, exp := range d.deps[t] {
			if d.now().Before(exp) {
				delete(d.m, k)
				if voidLeases {
					delete(d.leases, k)
				}
			}
		}
		if forget {
			delete(d.deps, t)
		}
	}
	return nil
}

// clearDepsNoop deletes nothing.
type clearDepsNoop struct{ *mapDriver }

func (clearDepsNoop) ClearDeps(ctx context.Context, _ []string) error { return ctx.Err() }

// clearDepsAll deletes every key recorded under any tag.
type clearDepsAll struct{ *mapDriver }

func (d clearDepsAll) ClearDeps(ctx context.Context, _ []string) error {
	d.mu.Lock()
	tags := make([]string, 0, len(d.deps))
	for t := range d.deps {
		tags = append(tags, t)
	}
	d.mu.Unlock()
	return d.mapDriver.ClearDeps(ctx, tags)
}

// clearDepsKeepsRecords deletes the keys but remembers the records.
type clearDepsKeepsRecords struct{ *mapDriver }

func (d clearDepsKeepsRecords) ClearDeps(ctx context.Context, tags []string) error {
	return d.clearDeps(ctx, tags, true, false)
}

// clearDepsKeepsLeases deletes the keys but not their leases.
type clearDepsKeepsLeases struct{ *mapDriver }

func (d clearDepsKeepsLeases) ClearDeps(ctx context.Context, tags []string) error {
	return d.clearDeps(ctx, tags, false, true)
}

// shortDepRecords keeps records a tenth of their ttl.
type shortDepRecords struct{ *mapDriver }

func (d shortDepRecords) IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error {
	return d.mapDriver.IndexDeps(ctx, key, deps, ttl/10)
}
