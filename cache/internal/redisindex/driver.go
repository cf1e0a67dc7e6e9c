package redisindex

import (
	"context"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// This file holds the halves of the drivers' dependency index and lease
// methods that do not depend on the client library: argument checks, the
// cluster registration around a write, the clearing loop and the decoding
// of a lease reply. Each driver passes the client calls as functions.

// CheckTags returns errEmpty if any of tags is empty, which the
// [cache.DepIndexer] contract rules out.
func CheckTags(tags []string, errEmpty error) error {
	for _, t := range tags {
		if t == "" {
			return errEmpty
		}
	}
	return nil
}

// IndexDeps is the driver-neutral part of [cache.DepIndexer.IndexDeps]: it
// checks deps (errEmpty for an empty tag), registers key's hash slot with
// each tag on a cluster (register, around the write as [Register] does),
// and calls index with the dependency sets to run [IndexDepsScript] on.
func (l Layout) IndexDeps(ctx context.Context, key string, deps []string, errEmpty error,
	register func(ctx context.Context, tags []string, sl int) error,
	index func(ctx context.Context, keys []string) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(deps) == 0 {
		return nil
	}
	if err := CheckTags(deps, errEmpty); err != nil {
		return err
	}
	keys, sl := l.DepKeys(key, deps)
	if l.Cluster {
		after, err := Register(ctx, func(ctx context.Context) error { return register(ctx, deps, sl) })
		if err != nil {
			return err
		}
		defer after()
	}
	return index(ctx, keys)
}

// ClearDeps is the driver-neutral part of [cache.DepIndexer.ClearDeps]: it
// checks tags (errEmpty for an empty tag), finds their dependency sets (on
// a cluster, members returns the members of each registry key, in order),
// and calls clear on the sets until none holds records. clear runs
// [ClearDepsScript] once on each set and returns the sets that still hold
// records, and removed extended with the keys it removed (when the caller
// collects them). ClearDeps returns those keys once each.
func (l Layout) ClearDeps(ctx context.Context, tags []string, errEmpty error,
	members func(ctx context.Context, registries []string) ([][]string, error),
	clear func(ctx context.Context, sets, removed []string) (more, _ []string, _ error)) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckTags(tags, errEmpty); err != nil {
		return nil, err
	}
	var keys []string
	if l.Cluster {
		regs := make([]string, len(tags))
		for i, t := range tags {
			regs[i] = l.DepRegistryKey(t)
		}
		ms, err := members(ctx, regs)
		if err != nil {
			return nil, err
		}
		for i, m := range ms {
			keys = append(keys, l.SlotDepKeys(tags[i], m)...)
		}
	} else {
		keys, _ = l.DepKeys("", tags)
	}
	var removed []string
	for len(keys) > 0 {
		var err error
		keys, removed, err = clear(ctx, keys, removed)
		if err != nil {
			return nil, err
		}
	}
	return Dedup(removed), nil
}

// RegisterFunc records, before a key is written on a cluster, that slot sl
// may hold keys under each of prefixes, for at least ttl plus
// [RegistryGrace]: a driver's client call.
type RegisterFunc func(ctx context.Context, prefixes []string, sl int, ttl time.Duration) error

// aroundLease registers, on a cluster, the hash slot of a lease's keys
// with the prefixes [Layout.LeaseKeys] returned, for ttl, and returns the
// function to defer after the write (see [Register]).
func (l Layout) aroundLease(ctx context.Context, prefixes []string, sl int, ttl time.Duration, register RegisterFunc) (after func(), err error) {
	if !l.Cluster || len(prefixes) == 0 {
		return func() {}, nil
	}
	return Register(ctx, func(ctx context.Context) error { return register(ctx, prefixes, sl, ttl) })
}

// Lease is the driver-neutral part of [cache.Leaser.Lease]: it registers
// the lease's slot on a cluster, draws a token and calls run, which runs
// [LeaseScript] on keys with tok and leaseTTL and decodes its reply: won,
// whether tok took the lease, and the bytes stored under the key, if found.
// Bytes that are not an entry are a miss.
func (l Layout) Lease(ctx context.Context, key string, leaseTTL time.Duration, register RegisterFunc,
	run func(ctx context.Context, keys []string, tok string) (won bool, data []byte, found bool, err error)) (string, cache.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", cache.Entry{}, false, err
	}
	keys, prefixes, sl := l.LeaseKeys(key)
	after, err := l.aroundLease(ctx, prefixes, sl, leaseTTL, register)
	if err != nil {
		return "", cache.Entry{}, false, err
	}
	defer after()
	tok := NewToken()
	won, data, found, err := run(ctx, keys, tok)
	if err != nil {
		return "", cache.Entry{}, false, err
	}
	if !won {
		tok = ""
	}
	if !found {
		return tok, cache.Entry{}, false, nil
	}
	e, err := cache.UnmarshalEntry(data)
	if err != nil {
		return tok, cache.Entry{}, false, nil
	}
	return tok, e, true, nil
}

// SetLeased is the driver-neutral part of [cache.Leaser.SetLeased]: it
// encodes e with codec, registers the key's slot on a cluster and calls
// run, which runs [SetLeasedScript] on keys with data and reports whether
// it stored.
func (l Layout) SetLeased(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry, codec cache.Codec, register RegisterFunc,
	run func(ctx context.Context, keys []string, data []byte) (bool, error)) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	data, err := cache.MarshalEntry(e, codec)
	if err != nil {
		return false, err
	}
	keys, prefixes, sl := l.LeaseKeys(key)
	after, err := l.aroundLease(ctx, prefixes, sl, storageTTL, register)
	if err != nil {
		return false, err
	}
	defer after()
	return run(ctx, keys, data)
}
