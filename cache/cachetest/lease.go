package cachetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// The clauses of the cache.Leaser contract.
const (
	clauseLeaseOne     = "Leaser: Lease takes the lease of key when no lease of key is held; when another unexpired lease is held it returns token == \"\""
	clauseLeaseUnique  = "Leaser: a token is a non-empty string that no other Lease call returns"
	clauseLeaseEntry   = "Leaser: Lease returns what Get would have returned at the same instant"
	clauseLeaseSet     = "Leaser: SetLeased stores e under key if and only if token is key's lease at that moment, and ends the lease"
	clauseLeaseDelete  = "Leaser: Delete voids the leases of its keys: SetLeased with a token taken before stores nothing"
	clauseLeaseClear   = "Leaser: Clear voids the leases of every key starting with its prefix: SetLeased with a token taken before stores nothing"
	clauseLeaseRelease = "Leaser: Release ends key's lease if token still holds it; a void token is not an error"
	clauseLeaseExpiry  = "Leaser: a lease ends when leaseTTL has elapsed"
)

func init() {
	checks = append(checks,
		check{"LeaseExclusive", checkLeaseExclusive},
		check{"LeaseSetLeased", checkLeaseSetLeased},
		check{"LeaseVoidedByDelete", checkLeaseVoidedByDelete},
		check{"LeaseVoidedByClear", checkLeaseVoidedByClear},
		check{"LeaseRelease", checkLeaseRelease},
		check{"LeaseExpiry", checkLeaseExpiry},
	)
}

func (e *env) leaser() cache.Leaser {
	l, ok := e.d.(cache.Leaser)
	if !ok {
		e.skip(fmt.Sprintf("%T does not implement cache.Leaser", e.d))
		return nil
	}
	// As the core does: a Leaser that does not offer its leases (a tiered
	// driver over an L2 without them) is not checked as one.
	if o, ok := e.d.(cache.LeaseOfferer); ok && !o.OffersLeases() {
		e.skip(fmt.Sprintf("%T does not offer its cache.Leaser", e.d))
		return nil
	}
	return l
}

// lease calls Lease, reporting an error; ok is false when it did.
func (e *env) lease(ctx context.Context, l cache.Leaser, key string, ttl time.Duration) (tok string, entry cache.Entry, found, ok bool) {
	tok, entry, found, err := l.Lease(ctx, key, ttl)
	if err != nil {
		e.failf(clauseLeaseOne, "Lease(%s) = %v, want nil error", short(key), err)
		return "", cache.Entry{}, false, false
	}
	return tok, entry, found, true
}

// setLeased calls SetLeased and reports a result other than want.
func (e *env) setLeased(ctx context.Context, l cache.Leaser, key, tok string, value any, want bool, clause, when string) bool {
	stored, err := l.SetLeased(ctx, key, tok, time.Minute, cache.NewEntry(value, time.Now(), time.Minute))
	if err != nil || stored != want {
		e.failf(clause, "%s: SetLeased(%s) = %v, %v; want %v, nil", when, short(key), stored, err, want)
		return false
	}
	return true
}

func checkLeaseExclusive(ctx context.Context, e *env) {
	l := e.leaser()
	if l == nil {
		return
	}
	const rounds = 10
	n := max(2*e.o.Parallelism, 4)
	seen := map[string]bool{}
	for r := range rounds {
		k := e.key(fmt.Sprint("lease:one:", r))
		var (
			mu     sync.Mutex
			tokens []string
			errs   int
			wg     sync.WaitGroup
			start  = make(chan struct{})
		)
		for range n {
			wg.Go(func() {
				<-start
				tok, _, _, err := l.Lease(ctx, k, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs++
				} else if tok != "" {
					tokens = append(tokens, tok)
				}
			})
		}
		close(start)
		wg.Wait()
		if errs > 0 {
			e.failf(clauseConcurrent, "%d of %d concurrent Leases of one key returned an error", errs, n)
			return
		}
		if len(tokens) != 1 {
			e.failf(clauseLeaseOne, "round %d: %d of %d concurrent Leases of one key returned a token, want exactly 1", r, len(tokens), n)
			return
		}
		if seen[tokens[0]] {
			e.failf(clauseLeaseUnique, "round %d: token %q was returned before", r, tokens[0])
		}
		seen[tokens[0]] = true
	}
}

func checkLeaseSetLeased(ctx context.Context, e *env) {
	l := e.leaser()
	if l == nil {
		return
	}
	// Keys with braces: on a Redis Cluster only part of such a key may be
	// hashed, and the lease must still share its slot.
	for _, suffix := range []string{"lease:set", "lease:set:{tag}x", "lease:set:a{b", "lease:set:}{c}d", "lease:set:{}e"} {
		if !checkLeaseSetLeasedKey(ctx, e, l, e.key(suffix)) {
			return
		}
	}
}

func checkLeaseSetLeasedKey(ctx context.Context, e *env, l cache.Leaser, k string) bool {
	tok, _, found, ok := e.lease(ctx, l, k, time.Minute)
	if !ok {
		return false
	}
	if tok == "" || found {
		e.failf(clauseLeaseOne, "Lease(absent key) = token %q, found %v; want a token and a miss", tok, found)
		return false
	}
	if !e.setLeased(ctx, l, k, tok+"x", "forged", false, clauseLeaseSet, "another token") {
		return false
	}
	if !e.setLeased(ctx, l, k, tok, "leased", true, clauseLeaseSet, "the lease's token") {
		return false
	}
	if e.report(clauseLeaseSet, e.present(ctx, k, "leased", clauseLeaseSet)) {
		return false
	}
	if !e.setLeased(ctx, l, k, tok, "again", false, clauseLeaseSet, "a token whose lease ended with a SetLeased") {
		return false
	}
	// The lease ended: a new one is granted, and Lease returns the entry.
	tok2, got, found, ok := e.lease(ctx, l, k, time.Minute)
	if !ok {
		return false
	}
	if tok2 == "" || tok2 == tok {
		e.failf(clauseLeaseSet, "Lease after SetLeased ended the lease = token %q (the first was %q), want a new token", tok2, tok)
	}
	if !found || !equalValue(got.Value, "leased") {
		e.failf(clauseLeaseEntry, "Lease(stored key) = found %v, value %s; want the stored entry", found, show(got.Value))
	}
	if tok2 != "" {
		if err := l.Release(ctx, k, tok2); err != nil {
			e.failf(clauseLeaseRelease, "Release(the lease's token) = %v, want nil", err)
		}
	}
	return true
}

func checkLeaseVoidedByDelete(ctx context.Context, e *env) {
	l := e.leaser()
	if l == nil {
		return
	}
	absent, present := e.key("lease:del:{x}absent"), e.key("lease:del:present")
	if !e.set(ctx, present, time.Minute, cache.NewEntry("old", time.Now(), time.Minute)) {
		return
	}
	var toks []string
	for _, k := range []string{absent, present} {
		tok, _, _, ok := e.lease(ctx, l, k, time.Minute)
		if !ok {
			return
		}
		if tok == "" {
			e.failf(clauseLeaseOne, "Lease(%s) with no lease held = no token", short(k))
			return
		}
		toks = append(toks, tok)
	}
	if err := e.d.Delete(ctx, []string{absent, present}); err != nil {
		e.failf(clauseDelete, "Delete = %v", err)
		return
	}
	for i, k := range []string{absent, present} {
		if !e.setLeased(ctx, l, k, toks[i], "stale", false, clauseLeaseDelete, "token taken before Delete") {
			return
		}
		if e.report(clauseLeaseDelete, e.missing(ctx, k, clauseLeaseDelete)) {
			return
		}
	}
}

func checkLeaseVoidedByClear(ctx context.Context, e *env) {
	l := e.leaser()
	if l == nil {
		return
	}
	// A prefix that ends at a separator and one that stops inside a
	// segment: drivers may serve them differently (an index, a scan).
	for _, c := range []struct{ prefix, key string }{
		{"lease:clear:", "lease:clear:a:b"},
		{"lease:clearin", "lease:clearing:x"},
		{"lease:", "lease:deep:er:than:most:indexes:go"},
	} {
		k := e.key(c.key)
		tok, _, _, ok := e.lease(ctx, l, k, time.Minute)
		if !ok {
			return
		}
		if tok == "" {
			e.failf(clauseLeaseOne, "Lease(%s) with no lease held = no token", short(k))
			return
		}
		if err := e.d.Clear(ctx, e.key(c.prefix)); err != nil {
			e.failf(clauseClear, "Clear(%s) = %v", short(e.key(c.prefix)), err)
			return
		}
		if !e.setLeased(ctx, l, k, tok, "stale", false, clauseLeaseClear, "token taken before Clear("+c.prefix+")") {
			return
		}
		if e.report(clauseLeaseClear, e.missing(ctx, k, clauseLeaseClear)) {
			return
		}
	}
}

func checkLeaseRelease(ctx context.Context, e *env) {
	l := e.leaser()
	if l == nil {
		return
	}
	k := e.key("lease:release")
	tok, _, _, ok := e.lease(ctx, l, k, time.Minute)
	if !ok {
		return
	}
	held, _, _, ok := e.lease(ctx, l, k, time.Minute)
	if !ok {
		return
	}
	if held != "" {
		e.failf(clauseLeaseOne, "Lease of a key whose lease is held = token %q, want \"\"", held)
		return
	}
	if err := l.Release(ctx, k, tok+"x"); err != nil {
		e.failf(clauseLeaseRelease, "Release(another token) = %v, want nil", err)
		return
	}
	if held, _, _, ok = e.lease(ctx, l, k, time.Minute); !ok {
		return
	}
	if held != "" {
		e.failf(clauseLeaseRelease, "Release with another token ended the lease")
		return
	}
	if err := l.Release(ctx, k, tok); err != nil {
		e.failf(clauseLeaseRelease, "Release(the lease's token) = %v, want nil", err)
		return
	}
	tok2, _, _, ok := e.lease(ctx, l, k, time.Minute)
	if !ok {
		return
	}
	if tok2 == "" {
		e.failf(clauseLeaseRelease, "Lease after Release = no token, want a new lease")
		return
	}
	if !e.setLeased(ctx, l, k, tok, "released", false, clauseLeaseSet, "a released token") {
		return
	}
	if err := l.Release(ctx, k, tok); err != nil {
		e.failf(clauseLeaseRelease, "Release(a void token) = %v, want nil", err)
	}
}

func checkLeaseExpiry(ctx context.Context, e *env) {
	l := e.leaser()
	if l == nil {
		return
	}
	k := e.key("lease:expiry")
	ttl := e.storageTTL()
	start := time.Now()
	tok, _, _, ok := e.lease(ctx, l, k, ttl)
	if !ok {
		return
	}
	if tok == "" {
		e.failf(clauseLeaseOne, "Lease(%s) with no lease held = no token", short(k))
		return
	}
	g := e.o.TTLGranularity
	if e.o.Advance != nil {
		e.o.Advance(ttl + g)
	} else if sleep(ctx, time.Until(start.Add(ttl+g))) != nil {
		return
	}
	tok2, _, _, ok := e.lease(ctx, l, k, time.Minute)
	if !ok {
		return
	}
	if tok2 == "" {
		e.failf(clauseLeaseExpiry, "Lease %v after a lease of %v was taken = no token, want a new lease", time.Since(start).Round(time.Millisecond), ttl)
		return
	}
	e.setLeased(ctx, l, k, tok, "expired", false, clauseLeaseSet, "a token whose lease expired")
}
