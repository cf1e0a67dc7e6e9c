package cachetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// The clauses of the cache.DepIndexer contract.
const (
	clauseDepsClear   = "DepIndexer: ClearDeps deletes every key recorded under any of tags"
	clauseDepsOnly    = "DepIndexer: ClearDeps deletes only keys recorded under its tags"
	clauseDepsErr     = "DepIndexer: IndexDeps and ClearDeps succeed on a working backend; an unknown tag, or a record without its entry, is not an error"
	clauseDepsTTL     = "DepIndexer: IndexDeps must keep each record at least ttl"
	clauseDepsLease   = "DepIndexer: ClearDeps voids the leases of the keys it deletes: SetLeased with a token taken before stores nothing"
	clauseDepsForget  = "DepIndexer: ClearDeps forgets the records it cleared"
	clauseDepsConcurr = "DepIndexer: both must be safe for concurrent use"
)

func init() {
	checks = append(checks,
		check{"DepsClear", checkDepsClear},
		check{"DepsUnknownTag", checkDepsUnknownTag},
		check{"DepsRecordLifetime", checkDepsRecordLifetime},
		check{"DepsVoidLeases", checkDepsVoidLeases},
		check{"DepsConcurrent", checkDepsConcurrent},
	)
}

func (e *env) depIndexer() cache.DepIndexer {
	x, ok := e.d.(cache.DepIndexer)
	if !ok {
		e.skip(fmt.Sprintf("%T does not implement cache.DepIndexer", e.d))
		return nil
	}
	if o, ok := e.d.(cache.DepOfferer); ok && !o.OffersDeps() {
		e.skip(fmt.Sprintf("%T does not offer its cache.DepIndexer", e.d))
		return nil
	}
	return x
}

// tag returns a dependency tag as the cache builds them: the namespace
// followed by a model name.
func (e *env) tag(model string) string { return e.ns + model }

// indexAndSet records key under tags for ttl and stores an entry under it,
// in the order the cache does. It reports a failure and returns false when
// either fails.
func (e *env) indexAndSet(ctx context.Context, x cache.DepIndexer, key string, ttl time.Duration, tags ...string) bool {
	if err := x.IndexDeps(ctx, key, tags, ttl); err != nil {
		e.failf(clauseDepsErr, "IndexDeps(%s) = %v, want nil", short(key), err)
		return false
	}
	return e.set(ctx, key, ttl, cache.NewEntry(key, time.Now(), ttl))
}

func (e *env) clearDeps(ctx context.Context, x cache.DepIndexer, tags ...string) bool {
	if err := x.ClearDeps(ctx, tags); err != nil {
		e.failf(clauseDepsErr, "ClearDeps(%v) = %v, want nil", tags, err)
		return false
	}
	return true
}

// expectKeys checks that each key of gone is a miss and each of kept still
// hits.
func (e *env) expectKeys(ctx context.Context, gone, kept []string, goneClause, keptClause, when string) bool {
	for _, k := range gone {
		if e.report(goneClause, prefixed(when, e.missing(ctx, k, goneClause))) {
			return false
		}
	}
	for _, k := range kept {
		if e.report(keptClause, prefixed(when, e.present(ctx, k, k, keptClause))) {
			return false
		}
	}
	return true
}

// prefixed puts when before the detail of err.
func prefixed(when string, err error) error {
	var ce *clauseError
	if errors.As(err, &ce) {
		return &clauseError{clause: ce.clause, detail: when + ": " + ce.detail}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", when, err)
	}
	return nil
}

func checkDepsClear(ctx context.Context, e *env) {
	x := e.depIndexer()
	if x == nil {
		return
	}
	post, comment := e.tag("post"), e.tag("comment")
	a, b, c := e.key("user:findMany:a"), e.key("user:findMany:b"), e.key("user:findMany:c")
	plain, own := e.key("user:findMany:plain"), e.key("post:findMany:own")
	if !e.indexAndSet(ctx, x, a, time.Minute, post) ||
		!e.indexAndSet(ctx, x, b, time.Minute, post, comment) ||
		!e.indexAndSet(ctx, x, c, time.Minute, comment) {
		return
	}
	for _, k := range []string{plain, own} {
		if !e.set(ctx, k, time.Minute, cache.NewEntry(k, time.Now(), time.Minute)) {
			return
		}
	}
	if !e.clearDeps(ctx, x, post) ||
		!e.expectKeys(ctx, []string{a, b}, []string{c, plain, own}, clauseDepsClear, clauseDepsOnly, "after ClearDeps(post)") {
		return
	}
	// A key recorded under two tags goes with either; the other tag still
	// removes what remains under it.
	if !e.clearDeps(ctx, x, comment) ||
		!e.expectKeys(ctx, []string{c}, []string{plain, own}, clauseDepsClear, clauseDepsOnly, "after ClearDeps(comment)") {
		return
	}
	// Cleared records are forgotten: the keys stored again without them
	// survive a second ClearDeps of their old tags.
	for _, k := range []string{a, b} {
		if !e.set(ctx, k, time.Minute, cache.NewEntry(k, time.Now(), time.Minute)) {
			return
		}
	}
	if !e.clearDeps(ctx, x, post, comment) {
		return
	}
	e.expectKeys(ctx, nil, []string{a, b}, clauseDepsForget, clauseDepsForget, "after a second ClearDeps of the same tags")
}

func checkDepsUnknownTag(ctx context.Context, e *env) {
	x := e.depIndexer()
	if x == nil {
		return
	}
	k := e.key("user:findMany:unknown")
	if !e.indexAndSet(ctx, x, k, time.Minute, e.tag("post")) {
		return
	}
	if !e.clearDeps(ctx, x, e.tag("nothing"), e.tag("pos"), e.tag("post:")) {
		return
	}
	if !e.expectKeys(ctx, nil, []string{k}, clauseDepsClear, clauseDepsOnly, "after ClearDeps of unknown tags") {
		return
	}
	// A record without its entry (the cache indexes before it stores).
	lone := e.key("user:findMany:lone")
	if err := x.IndexDeps(ctx, lone, []string{e.tag("lone")}, time.Minute); err != nil {
		e.failf(clauseDepsErr, "IndexDeps(%s) = %v, want nil", short(lone), err)
		return
	}
	if e.clearDeps(ctx, x, e.tag("lone")) {
		e.report(clauseDepsClear, e.missing(ctx, lone, clauseDepsClear))
	}
}

func checkDepsRecordLifetime(ctx context.Context, e *env) {
	x := e.depIndexer()
	if x == nil {
		return
	}
	k := e.key("user:findMany:ttl")
	ttl := 2 * e.storageTTL()
	start := time.Now()
	if err := x.IndexDeps(ctx, k, []string{e.tag("post")}, ttl); err != nil {
		e.failf(clauseDepsErr, "IndexDeps(%s) = %v, want nil", short(k), err)
		return
	}
	// The entry lives longer than its record was asked to: the record must
	// still remove it until ttl has passed.
	if !e.set(ctx, k, 10*ttl, cache.NewEntry(k, time.Now(), 10*ttl)) {
		return
	}
	if e.o.Advance != nil {
		e.o.Advance(ttl - e.o.TTLGranularity)
	} else if sleep(ctx, ttl/2) != nil {
		return
	}
	if !e.clearDeps(ctx, x, e.tag("post")) {
		return
	}
	if e.o.Advance == nil && time.Since(start) >= ttl {
		return // too slow to tell
	}
	e.report(clauseDepsTTL, e.missing(ctx, k, clauseDepsTTL))
}

func checkDepsVoidLeases(ctx context.Context, e *env) {
	x := e.depIndexer()
	if x == nil {
		return
	}
	l := e.leaser() // no leases (or none offered): none to void
	if l == nil {
		return
	}
	k := e.key("user:findMany:leased")
	tok, _, _, ok := e.lease(ctx, l, k, time.Minute)
	if !ok {
		return
	}
	if tok == "" {
		e.failf(clauseLeaseOne, "Lease(%s) of a fresh key returned no token", short(k))
		return
	}
	// As the cache does: the key is indexed once its lease is taken, before
	// its loader runs; a clear of the tag then voids the lease.
	if err := x.IndexDeps(ctx, k, []string{e.tag("post")}, time.Minute); err != nil {
		e.failf(clauseDepsErr, "IndexDeps(%s) = %v, want nil", short(k), err)
		return
	}
	if !e.clearDeps(ctx, x, e.tag("post")) {
		return
	}
	if e.setLeased(ctx, l, k, tok, "pre-clear rows", false, clauseDepsLease, "after ClearDeps of its tag") {
		e.report(clauseDepsLease, e.missing(ctx, k, clauseDepsLease))
	}
}

func checkDepsConcurrent(ctx context.Context, e *env) {
	x := e.depIndexer()
	if x == nil {
		return
	}
	all := e.tag("all")
	const keysPer, rounds = 8, 6
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for g := range e.o.Parallelism {
		wg.Go(func() {
			mine := e.tag(fmt.Sprint("g", g))
			for r := range rounds {
				keys := make([]string, keysPer)
				for i := range keys {
					keys[i] = e.key(fmt.Sprintf("user:findMany:g%d:%d", g, i))
					if err := x.IndexDeps(ctx, keys[i], []string{mine, all}, time.Minute); err != nil {
						fail(fmt.Errorf("calling IndexDeps: %w", err))
						return
					}
					if err := e.d.Set(ctx, keys[i], time.Minute, cache.NewEntry(keys[i], time.Now(), time.Minute)); err != nil {
						fail(fmt.Errorf("calling Set: %w", err))
						return
					}
				}
				if r == rounds-1 {
					return // leave the last round for the final clear of all
				}
				if err := x.ClearDeps(ctx, []string{mine}); err != nil {
					fail(fmt.Errorf("calling ClearDeps: %w", err))
					return
				}
				for _, k := range keys {
					if err := e.missing(ctx, k, clauseDepsClear); err != nil {
						fail(fmt.Errorf("round %d: %s survived ClearDeps of its goroutine's tag while others indexed: %w", r, short(k), err))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		e.failf(clauseDepsConcurr, "%d of %d goroutines failed; first: %v", len(errs), e.o.Parallelism, errs[0])
		return
	}
	if !e.clearDeps(ctx, x, all) {
		return
	}
	for g := range e.o.Parallelism {
		for i := range keysPer {
			k := e.key(fmt.Sprintf("user:findMany:g%d:%d", g, i))
			if err := e.missing(ctx, k, clauseDepsClear); err != nil {
				e.failf(clauseDepsConcurr, "%s, indexed under a shared tag by concurrent goroutines, survived ClearDeps of it: %v", short(k), err)
				return
			}
		}
	}
}
