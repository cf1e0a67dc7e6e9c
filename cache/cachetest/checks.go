package cachetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// The clauses of the contract, as failures name them. They quote or
// paraphrase the documentation of cache.Driver, cache.Adder and
// cache.BatchGetter.
const (
	clauseSeedStore   = "seed: stores and retrieves entries"
	clauseSeedMissing = "seed: returns null for missing keys"
	clauseSeedClear   = "seed: clears by prefix"

	clauseName       = "Name returns a short constant name"
	clauseConcurrent = "every method must be safe for concurrent use by multiple goroutines"
	clauseContext    = "a method called with a context that is already done must return that context's error"
	clauseKeys       = "keys are non-empty strings of any bytes up to at least 1 KiB; a driver must not add, strip or interpret any part of a key"
	clauseGet        = "Get returns the entry stored under key and ok == true"
	clauseMiss       = "Get: on a miss it returns ok == false and a nil error; a miss is never an error"
	clauseFidelity   = "Get must return the entry's CreatedAt and TTL exactly as given to Set"
	clauseSet        = "Set stores entry under key"
	clauseReplace    = "Set stores entry under key, replacing any previous entry"
	clauseKeepTTL    = "Set stores entry for at least storageTTL"
	clauseExpiry     = "after storageTTL has elapsed, Get must report a miss"
	clauseDelete     = "Delete removes every key in keys"
	clauseDelEmpty   = "Delete: an empty keys is a no-op"
	clauseDelMissing = "Delete: keys that do not exist are ignored and are not an error"
	clauseClear      = "Clear removes every key that starts with prefix"
	clauseClearOnly  = "Clear removes only keys that start with prefix"
	clauseLiteral    = "Clear compares byte for byte: no character in prefix is special"
	clauseAddOne     = "Adder: of many concurrent Add calls for one absent key, exactly one must report true"
	clauseAddPresent = "Adder: Add stores only if no entry is stored under key"
	clauseAddExpired = "Adder: an expired entry counts as absent"
	clauseBatch      = "BatchGetter: its answers must agree with calling Get for each key"
	clauseBatchMiss  = "BatchGetter: a missing key is absent from the map, never an error"
)

// checks is every check, in the order they run.
var checks = []check{
	{"Name", checkName},
	{"StoresAndRetrievesEntries", checkSeedStore},
	{"ReturnsNullForMissingKeys", checkSeedMissing},
	{"ClearsByPrefix", checkSeedClear},
	{"MissIsNotAnError", checkMiss},
	{"EntryFidelity", checkFidelity},
	{"SetReplaces", checkReplace},
	{"StorageTTL", checkStorageTTL},
	{"DeleteSeveral", checkDelete},
	{"DeleteNone", checkDeleteNone},
	{"DeleteMissing", checkDeleteMissing},
	{"ClearSeparator", checkClearSeparator},
	{"ClearLiteral", checkClearLiteral},
	{"Keys", checkKeys},
	{"LargeValue", checkLargeValue},
	{"Concurrent", checkConcurrent},
	{"CanceledContext", checkCanceled},
	{"AddExclusive", checkAddExclusive},
	{"AddPresent", checkAddPresent},
	{"AddAfterExpiry", checkAddAfterExpiry},
	{"GetMany", checkGetMany},
}

func checkName(ctx context.Context, e *env) {
	n := e.d.Name()
	if n == "" {
		e.failf(clauseName, "Name() = \"\", want a non-empty name")
	}
	if n2 := e.d.Name(); n2 != n {
		e.failf(clauseName, "Name() = %q, then %q; want a constant", n, n2)
	}
}

// newCache returns a Cache on the driver whose prefix is the check's
// namespace. Closing it closes the driver.
func (e *env) newCache(clause string) *cache.Cache {
	c, err := cache.New(e.d, &cache.Options{Version: e.version, WaitUntil: cache.Inline})
	if err != nil {
		e.failf(clause, "cache.New = %v, want nil", err)
		return nil
	}
	return c
}

func (e *env) closeCache(c *cache.Cache, clause string) {
	e.closed = true
	if err := c.Close(); err != nil {
		e.failf(clause, "(*cache.Cache).Close = %v, want nil", err)
	}
}

func checkSeedStore(ctx context.Context, e *env) {
	c := e.newCache(clauseSeedStore)
	if c == nil {
		return
	}
	defer e.closeCache(c, clauseSeedStore)
	want := map[string]any{"id": 1}
	if err := c.Set(ctx, "test-key", want, cache.Policy{TTL: time.Minute}); err != nil {
		e.failf(clauseSeedStore, "Set(\"test-key\") = %v, want nil", err)
		return
	}
	err := e.eventually(ctx, func() error {
		got, ok, err := c.Get(ctx, "test-key")
		switch {
		case err != nil:
			return fmt.Errorf("Get(\"test-key\") = %v, want nil error", err)
		case !ok:
			return fmt.Errorf("Get(\"test-key\") = miss, want the entry just set")
		case !equalValue(got.Value, want):
			return fmt.Errorf("Get(\"test-key\").Value = %s, want %s", show(got.Value), show(want))
		case got.TTL != time.Minute:
			return fmt.Errorf("Get(\"test-key\").TTL = %v, want %v", got.TTL, time.Minute)
		}
		return nil
	})
	e.report(clauseSeedStore, err)
}

func checkSeedMissing(ctx context.Context, e *env) {
	c := e.newCache(clauseSeedMissing)
	if c == nil {
		return
	}
	defer e.closeCache(c, clauseSeedMissing)
	if got, ok, err := c.Get(ctx, "nonexistent"); ok || err != nil {
		e.failf(clauseSeedMissing, "Get(\"nonexistent\") = %+v, %v, %v; want ok == false and a nil error", got, ok, err)
	}
}

func checkSeedClear(ctx context.Context, e *env) {
	c := e.newCache(clauseSeedClear)
	if c == nil {
		return
	}
	defer e.closeCache(c, clauseSeedClear)
	for _, k := range []string{"user:a", "user:b", "post:c"} {
		if err := c.Set(ctx, k, map[string]any{}, cache.Policy{TTL: time.Minute}); err != nil {
			e.failf(clauseSeedClear, "Set(%q) = %v, want nil", k, err)
			return
		}
	}
	for _, k := range []string{"user:a", "user:b", "post:c"} {
		if e.report(clauseSeedClear, e.present(ctx, c.FullKey(k), nil, clauseSeedClear)) {
			return
		}
	}
	if err := c.InvalidateModel(ctx, "user"); err != nil {
		e.failf(clauseSeedClear, "InvalidateModel(\"user\") = %v, want nil", err)
		return
	}
	for _, k := range []string{"user:a", "user:b"} {
		err := e.eventually(ctx, func() error {
			if _, ok, err := c.Get(ctx, k); ok || err != nil {
				return fmt.Errorf("Get(%q) after InvalidateModel(\"user\") = %v, %v; want a miss", k, ok, err)
			}
			return nil
		})
		e.report(clauseSeedClear, err)
	}
	if _, ok, err := c.Get(ctx, "post:c"); !ok || err != nil {
		e.failf(clauseSeedClear, "Get(\"post:c\") after InvalidateModel(\"user\") = %v, %v; want the entry", ok, err)
	}
}

func checkMiss(ctx context.Context, e *env) {
	for _, k := range []string{"missing", "missing:with:colons", "m"} {
		if got, ok, err := e.d.Get(ctx, e.key(k)); ok || err != nil {
			e.failf(clauseMiss, "Get(%s) of a key never set = %+v, %v, %v; want ok == false and a nil error", short(e.key(k)), got, ok, err)
		}
	}
}

func checkFidelity(ctx context.Context, e *env) {
	now := time.Now()
	entries := []cache.Entry{
		cache.NewEntry("now", now, 1234*time.Millisecond),
		cache.NewEntry("ms", time.UnixMilli(1_700_000_000_123), time.Millisecond),
		cache.NewEntry("old", time.UnixMilli(123_456_789_012), 90*24*time.Hour+7*time.Millisecond),
		cache.NewEntry("zone", time.UnixMilli(1_700_000_000_999).In(time.FixedZone("X", 5*3600+1800)), 5*time.Minute+1*time.Millisecond),
	}
	for i, want := range entries {
		k := e.key(fmt.Sprint("fidelity:", i))
		if !e.set(ctx, k, time.Minute, want) {
			continue
		}
		err := e.eventually(ctx, func() error {
			got, ok, err := e.d.Get(ctx, k)
			switch {
			case err != nil || !ok:
				return clausef(clauseGet, "Get(%s) = %v, %v; want the stored entry", short(k), ok, err)
			case !got.CreatedAt.Equal(want.CreatedAt):
				return fmt.Errorf("Get(%s).CreatedAt = %v, want %v", short(k), got.CreatedAt, want.CreatedAt)
			case got.TTL != want.TTL:
				return fmt.Errorf("Get(%s).TTL = %v, want %v", short(k), got.TTL, want.TTL)
			case !equalValue(got.Value, want.Value):
				return clausef(clauseGet, "Get(%s).Value = %s, want %s", short(k), show(got.Value), show(want.Value))
			}
			return nil
		})
		e.report(clauseFidelity, err)
	}
}

func checkReplace(ctx context.Context, e *env) {
	k := e.key("replace")
	if !e.set(ctx, k, time.Minute, cache.NewEntry("first", time.Now(), time.Second)) {
		return
	}
	if e.report(clauseSet, e.present(ctx, k, "first", clauseGet)) {
		return
	}
	want := cache.NewEntry("second", time.Now().Add(time.Second), 2*time.Second)
	if !e.set(ctx, k, time.Minute, want) {
		return
	}
	err := e.eventually(ctx, func() error {
		got, ok, err := e.d.Get(ctx, k)
		if err != nil || !ok || !equalValue(got.Value, "second") || got.TTL != want.TTL || !got.CreatedAt.Equal(want.CreatedAt) {
			return fmt.Errorf("after a second Set, Get = %s (TTL %v), %v, %v; want the second entry", show(got.Value), got.TTL, ok, err)
		}
		return nil
	})
	e.report(clauseReplace, err)
}

// expire waits, or advances the clock, until an entry stored at start with
// storageTTL ttl must have expired, then checks that it has. It returns false
// when it reported a failure.
func (e *env) expire(ctx context.Context, start time.Time, ttl time.Duration, key string) bool {
	g := e.o.TTLGranularity
	if e.o.Advance != nil {
		e.o.Advance(ttl + g)
		return !e.report(clauseExpiry, e.missing(ctx, key, clauseExpiry))
	}
	if sleep(ctx, time.Until(start.Add(ttl))) != nil {
		return false
	}
	deadline := start.Add(ttl + g + e.o.Consistency + max(g, 250*time.Millisecond))
	interval := max(g/4, 5*time.Millisecond)
	for {
		_, ok, err := e.d.Get(ctx, key)
		if err != nil {
			e.failf(clauseMiss, "Get(%s) of an expired key = %v, want ok == false and a nil error", short(key), err)
			return false
		}
		if !ok {
			return true
		}
		if time.Now().After(deadline) {
			e.failf(clauseExpiry, "Get(%s) still hits %v after Set with storage TTL %v", short(key), time.Since(start).Round(time.Millisecond), ttl)
			return false
		}
		if sleep(ctx, interval) != nil {
			return false
		}
	}
}

func checkStorageTTL(ctx context.Context, e *env) {
	k := e.key("ttl")
	ttl := e.storageTTL()
	start := time.Now()
	if !e.set(ctx, k, ttl, cache.NewEntry("ttl", start, time.Millisecond)) {
		return
	}
	if e.o.Advance != nil {
		e.o.Advance(ttl / 2)
		if e.report(clauseKeepTTL, e.present(ctx, k, "ttl", clauseKeepTTL)) {
			return
		}
		e.o.Advance(ttl/2 + e.o.TTLGranularity)
		e.report(clauseExpiry, e.missing(ctx, k, clauseExpiry))
		return
	}
	err := e.present(ctx, k, "ttl", clauseKeepTTL)
	if time.Since(start) < ttl-e.o.TTLGranularity && e.report(clauseKeepTTL, err) {
		return
	}
	e.expire(ctx, start, ttl, k)
}

func checkDelete(ctx context.Context, e *env) {
	keys := []string{e.key("del:a"), e.key("del:b"), e.key("del:c")}
	keep := e.key("del:keep")
	for _, k := range append(keys, keep) {
		if !e.set(ctx, k, time.Minute, cache.NewEntry(k, time.Now(), time.Minute)) {
			return
		}
	}
	for _, k := range append(keys, keep) {
		if e.report(clauseSet, e.present(ctx, k, k, clauseGet)) {
			return
		}
	}
	if err := e.d.Delete(ctx, append(keys, e.key("del:missing"))); err != nil {
		e.failf(clauseDelete, "Delete(3 present keys and 1 missing) = %v, want nil", err)
		return
	}
	for _, k := range keys {
		e.report(clauseDelete, e.missing(ctx, k, clauseDelete))
	}
	e.report(clauseDelete, e.present(ctx, keep, keep, clauseDelete))
}

func checkDeleteNone(ctx context.Context, e *env) {
	if err := e.d.Delete(ctx, nil); err != nil {
		e.failf(clauseDelEmpty, "Delete(nil) = %v, want nil", err)
	}
	if err := e.d.Delete(ctx, []string{}); err != nil {
		e.failf(clauseDelEmpty, "Delete([]string{}) = %v, want nil", err)
	}
}

func checkDeleteMissing(ctx context.Context, e *env) {
	if err := e.d.Delete(ctx, []string{e.key("missing")}); err != nil {
		e.failf(clauseDelMissing, "Delete(one missing key) = %v, want nil", err)
	}
	if err := e.d.Delete(ctx, []string{e.key("missing:1"), e.key("missing:2")}); err != nil {
		e.failf(clauseDelMissing, "Delete(two missing keys) = %v, want nil", err)
	}
	k := e.key("present")
	if e.set(ctx, k, time.Minute, cache.NewEntry(1, time.Now(), time.Minute)) {
		if err := e.d.Delete(ctx, []string{e.key("missing:3"), k}); err != nil {
			e.failf(clauseDelMissing, "Delete(a missing key, a present key) = %v, want nil", err)
		}
		e.report(clauseDelete, e.missing(ctx, k, clauseDelete))
	}
}

// clearCase sets every key, clears prefix, and checks that exactly the keys
// starting with prefix are gone. Failures to remove a matching key are
// reported as clause clear; removing another key as clause only.
func (e *env) clearCase(ctx context.Context, keys []string, prefix, clear, only string) {
	for _, k := range keys {
		if !e.set(ctx, k, time.Minute, cache.NewEntry(k, time.Now(), time.Minute)) {
			return
		}
	}
	for _, k := range keys {
		if e.report(clauseSet, e.present(ctx, k, k, clauseGet)) {
			return
		}
	}
	if err := e.d.Clear(ctx, prefix); err != nil {
		e.failf(clear, "Clear(%s) = %v, want nil", short(prefix), err)
		return
	}
	var gone, kept []string
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			if e.missing(ctx, k, clear) != nil {
				kept = append(kept, k)
			}
		} else if e.present(ctx, k, k, only) != nil {
			gone = append(gone, k)
		}
	}
	if len(kept) > 0 {
		e.failf(clear, "after Clear(%s), keys starting with it remain: %s", short(prefix), shortKeys(kept, e.ns))
	}
	if len(gone) > 0 {
		e.failf(only, "Clear(%s) removed keys that do not start with it: %s", short(prefix), shortKeys(gone, e.ns))
	}
}

func shortKeys(keys []string, ns string) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == 8 {
			fmt.Fprintf(&b, "and %d more", len(keys)-i)
			break
		}
		fmt.Fprintf(&b, "%q", strings.Replace(k, ns, "<ns>", 1))
	}
	return b.String()
}

func checkClearSeparator(ctx context.Context, e *env) {
	keys := []string{
		e.key("user:1"), e.key("user:2"), e.key("user:findMany:abc"),
		e.key("userProfile:x"), e.key("user"), e.key("use"), e.key("users:1"),
		e.key("post:1"), e.key("post:user:1"),
		e.key("post:") + e.key("user:embedded"), // contains the prefix, but not at the start
	}
	e.clearCase(ctx, keys, e.key("user:"), clauseClear, clauseClearOnly)
}

// literalKeys are key suffixes full of characters that globs (Redis MATCH),
// LIKE patterns and regular expressions treat specially.
var literalKeys = []string{
	"a", "ab", "ac", "ax", "b", "c", "xay",
	"a*", "a*b", "*", "a?", "?", "ab?",
	"[ab]", "[ab]c", "a[", "a]", "]", "[",
	`a\`, `a\b`, `\`, `\*`, `a\*`,
	"%", "x%y", "%y", "_", "x_y", "xy",
	"^a", "a^", "$", "a.", "a.b",
	"{a}", "{a}b", "a{", "}",
}

var literalPrefixes = []string{
	"a*", "a?", "?", "*", "[ab]", "[", "a[", "]", `a\`, `\`, `\*`,
	"%", "x%", "_", "x_", "^", "a.", "{a}", "{", "a",
}

func checkClearLiteral(ctx context.Context, e *env) {
	for i, p := range literalPrefixes {
		ns := e.key(fmt.Sprintf("lit%d:", i))
		keys := make([]string, len(literalKeys))
		for j, k := range literalKeys {
			keys[j] = ns + k
		}
		e.clearCase(ctx, keys, ns+p, clauseLiteral, clauseLiteral)
	}
}

func checkKeys(ctx context.Context, e *env) {
	suffixes := []string{
		"with space", " leading", "trailing ", "colon:a:b::", ":",
		"ünïcødé/日本語/🙂", "tab\tnewline\nquote\"'", "percent%20encoded+plus",
	}
	if !e.o.UTF8Keys {
		suffixes = append(suffixes, "nul\x00byte", "invalid\xff\xfeutf8")
	}
	keys := make([]string, 0, len(suffixes)+2)
	for _, s := range suffixes {
		keys = append(keys, e.key(s))
	}
	// A long key of MaxKeyLen bytes, with multibyte runes and colons.
	long := e.key("long:")
	for len(long)+len("é:k") <= e.o.MaxKeyLen {
		long += "é:k"
	}
	long += strings.Repeat("k", max(0, e.o.MaxKeyLen-len(long)))
	keys = append(keys, long)
	for _, k := range keys {
		if err := e.d.Set(ctx, k, time.Minute, cache.NewEntry(k, time.Now(), time.Minute)); err != nil {
			e.failf(clauseKeys, "Set(%s) = %v, want nil", short(k), err)
		}
	}
	for _, k := range keys {
		e.report(clauseKeys, e.present(ctx, k, k, clauseKeys))
	}
	// Each key works as a prefix of itself, and only of itself.
	for i, k := range keys {
		if err := e.d.Clear(ctx, k); err != nil {
			e.failf(clauseKeys, "Clear(%s) = %v, want nil", short(k), err)
			continue
		}
		e.report(clauseKeys, e.missing(ctx, k, clauseKeys))
		for _, other := range keys[i+1:] {
			if !strings.HasPrefix(other, k) {
				e.report(clauseKeys, e.present(ctx, other, other, clauseKeys))
			}
		}
	}
	if err := e.d.Set(ctx, long, time.Minute, cache.NewEntry(1, time.Now(), time.Minute)); err == nil {
		if err := e.d.Delete(ctx, []string{long}); err != nil {
			e.failf(clauseKeys, "Delete(a %d-byte key) = %v, want nil", len(long), err)
		}
		e.report(clauseKeys, e.missing(ctx, long, clauseKeys))
	}
}

func checkLargeValue(ctx context.Context, e *env) {
	n := max(e.o.MaxValueBytes-256, 1)
	var b strings.Builder
	b.Grow(n)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%08x", i)
	}
	v := b.String()[:n]
	k := e.key("large")
	if err := e.d.Set(ctx, k, time.Minute, cache.NewEntry(v, time.Now(), time.Minute)); err != nil {
		e.failf(clauseSet, "Set(a %d-byte value) = %v, want nil", n, err)
		return
	}
	e.report(clauseGet, e.present(ctx, k, v, clauseGet))
}

type concValue struct {
	G int `json:"g"`
	N int `json:"n"`
}

func checkConcurrent(ctx context.Context, e *env) {
	const iterations = 50
	shared := []string{e.key("shared:0"), e.key("shared:1"), e.key("shared:2")}
	adder, _ := e.d.(cache.Adder)
	batch, _ := e.d.(cache.BatchGetter)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	fail := func(clause, format string, args ...any) {
		mu.Lock()
		errs = append(errs, clausef(clause, format, args...))
		mu.Unlock()
	}
	for g := range e.o.Parallelism {
		wg.Go(func() {
			own := e.key(fmt.Sprintf("own:%d", g))
			for n := range iterations {
				if ctx.Err() != nil {
					return
				}
				v := concValue{G: g, N: n}
				if err := e.d.Set(ctx, own, time.Minute, cache.NewEntry(v, time.Now(), time.Minute)); err != nil {
					fail(clauseConcurrent, "Set(own key) = %v", err)
					return
				}
				got, ok, err := e.d.Get(ctx, own)
				if err != nil {
					fail(clauseConcurrent, "Get(own key) = %v", err)
					return
				}
				if e.o.Consistency == 0 && (!ok || !equalValue(got.Value, v)) {
					fail(clauseConcurrent, "goroutine %d: Get(own key) after Set(%+v) = %s, %v; want what it set", g, v, show(got.Value), ok)
					return
				}
				s := shared[(g+n)%len(shared)]
				var opErr error
				switch n % 5 {
				case 0, 1:
					opErr = e.d.Set(ctx, s, time.Minute, cache.NewEntry(v, time.Now(), time.Minute))
				case 2:
					if adder != nil {
						_, opErr = adder.Add(ctx, s, time.Minute, cache.NewEntry(v, time.Now(), time.Minute))
					} else {
						opErr = e.d.Delete(ctx, []string{s})
					}
				case 3:
					opErr = e.d.Delete(ctx, []string{s, own + ":x"})
				case 4:
					opErr = e.d.Clear(ctx, e.key("shared:"))
				}
				if opErr != nil {
					fail(clauseConcurrent, "an operation on a shared key = %v", opErr)
					return
				}
				got, ok, err = e.d.Get(ctx, s)
				if err != nil {
					fail(clauseConcurrent, "Get(shared key) = %v", err)
					return
				}
				if ok && !validConcValue(got.Value, e.o.Parallelism, iterations) {
					fail(clauseConcurrent, "Get(shared key).Value = %s, want a value some goroutine stored", show(got.Value))
					return
				}
				if batch != nil {
					if _, err := batch.GetMany(ctx, append(shared, own)); err != nil {
						fail(clauseConcurrent, "GetMany = %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		e.report(clauseConcurrent, err)
	}
}

func validConcValue(v any, goroutines, iterations int) bool {
	for g := range goroutines {
		for n := range iterations {
			if equalValue(v, concValue{G: g, N: n}) {
				return true
			}
		}
	}
	return false
}

func checkCanceled(ctx context.Context, e *env) {
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	k := e.key("canceled")
	entry := cache.NewEntry(1, time.Now(), time.Minute)
	want := func(op string, err error) {
		if !errors.Is(err, context.Canceled) {
			e.failf(clauseContext, "%s with a cancelled context = %v, want an error matching context.Canceled", op, err)
		}
	}
	_, _, err := e.d.Get(cctx, k)
	want("Get", err)
	want("Set", e.d.Set(cctx, k, time.Minute, entry))
	want("Delete", e.d.Delete(cctx, []string{k}))
	want("Clear", e.d.Clear(cctx, e.ns))
	if a, ok := e.d.(cache.Adder); ok {
		_, err := a.Add(cctx, k, time.Minute, entry)
		want("Add", err)
	}
	if b, ok := e.d.(cache.BatchGetter); ok {
		_, err := b.GetMany(cctx, []string{k})
		want("GetMany", err)
	}
}

func (e *env) adder() cache.Adder {
	a, ok := e.d.(cache.Adder)
	if !ok {
		e.skip(fmt.Sprintf("%T does not implement cache.Adder", e.d))
	}
	return a
}

func checkAddExclusive(ctx context.Context, e *env) {
	a := e.adder()
	if a == nil {
		return
	}
	const rounds = 20
	n := max(2*e.o.Parallelism, 4)
	for r := range rounds {
		k := e.key(fmt.Sprint("add:", r))
		var (
			added atomic.Int32
			wg    sync.WaitGroup
			errs  atomic.Int32
			start = make(chan struct{})
		)
		for g := range n {
			wg.Go(func() {
				<-start
				ok, err := a.Add(ctx, k, time.Minute, cache.NewEntry(g, time.Now(), time.Minute))
				if err != nil {
					errs.Add(1)
				}
				if ok {
					added.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		if errs.Load() > 0 {
			e.failf(clauseConcurrent, "%d of %d concurrent Adds of one absent key returned an error", errs.Load(), n)
			return
		}
		if got := added.Load(); got != 1 {
			e.failf(clauseAddOne, "round %d: %d of %d concurrent Adds of one absent key reported true, want exactly 1", r, got, n)
			return
		}
	}
}

func checkAddPresent(ctx context.Context, e *env) {
	a := e.adder()
	if a == nil {
		return
	}
	k := e.key("add:absent")
	ok, err := a.Add(ctx, k, time.Minute, cache.NewEntry("added", time.Now(), time.Minute))
	if err != nil || !ok {
		e.failf(clauseAddPresent, "Add(absent key) = %v, %v; want true, nil", ok, err)
		return
	}
	if e.report(clauseAddPresent, e.present(ctx, k, "added", clauseAddPresent)) {
		return
	}
	k = e.key("add:present")
	if !e.set(ctx, k, time.Minute, cache.NewEntry("first", time.Now(), time.Minute)) {
		return
	}
	if e.report(clauseSet, e.present(ctx, k, "first", clauseGet)) {
		return
	}
	ok, err = a.Add(ctx, k, time.Minute, cache.NewEntry("second", time.Now(), time.Minute))
	if err != nil || ok {
		e.failf(clauseAddPresent, "Add(present key) = %v, %v; want false, nil", ok, err)
	}
	e.report(clauseAddPresent, e.present(ctx, k, "first", clauseAddPresent))
}

func checkAddAfterExpiry(ctx context.Context, e *env) {
	a := e.adder()
	if a == nil {
		return
	}
	k := e.key("add:expiring")
	ttl := e.storageTTL()
	start := time.Now()
	ok, err := a.Add(ctx, k, ttl, cache.NewEntry("first", start, time.Millisecond))
	if err != nil || !ok {
		e.failf(clauseAddPresent, "Add(absent key) = %v, %v; want true, nil", ok, err)
		return
	}
	if !e.expire(ctx, start, ttl, k) {
		return
	}
	ok, err = a.Add(ctx, k, time.Minute, cache.NewEntry("second", time.Now(), time.Minute))
	if err != nil || !ok {
		e.failf(clauseAddExpired, "Add(key whose entry expired) = %v, %v; want true, nil", ok, err)
		return
	}
	e.report(clauseAddExpired, e.present(ctx, k, "second", clauseAddExpired))
}

func checkGetMany(ctx context.Context, e *env) {
	b, ok := e.d.(cache.BatchGetter)
	if !ok {
		e.skip(fmt.Sprintf("%T does not implement cache.BatchGetter", e.d))
		return
	}
	for _, keys := range [][]string{nil, {}} {
		m, err := b.GetMany(ctx, keys)
		if err != nil || len(m) != 0 {
			e.failf(clauseBatchMiss, "GetMany(%#v) = %v, %v; want an empty map and nil", keys, m, err)
		}
	}
	present := []string{e.key("many:a"), e.key("many:b"), e.key("many:c")}
	missing := []string{e.key("many:missing"), e.key("many:x")}
	for i, k := range present {
		if !e.set(ctx, k, time.Minute, cache.NewEntry(k, time.UnixMilli(1_700_000_000_000+int64(i)), time.Duration(i+1)*time.Second)) {
			return
		}
	}
	for _, k := range present {
		if e.report(clauseSet, e.present(ctx, k, k, clauseGet)) {
			return
		}
	}
	keys := []string{missing[0], present[0], present[1], missing[1], present[2]}
	m, err := b.GetMany(ctx, keys)
	if err != nil {
		e.failf(clauseBatchMiss, "GetMany(3 present keys, 2 missing) = %v, want nil", err)
		return
	}
	for _, k := range keys {
		want, wantOK, err := e.d.Get(ctx, k)
		if err != nil {
			e.failf(clauseGet, "Get(%s) = %v", short(k), err)
			continue
		}
		got, gotOK := m[k]
		switch {
		case gotOK != wantOK:
			e.failf(clauseBatch, "GetMany has %s: %v; Get reports ok == %v", short(k), gotOK, wantOK)
		case gotOK && (!equalValue(got.Value, k) || got.TTL != want.TTL || !got.CreatedAt.Equal(want.CreatedAt)):
			e.failf(clauseBatch, "GetMany[%s] = {%s %v %v}, Get = {%s %v %v}", short(k),
				show(got.Value), got.CreatedAt, got.TTL, show(want.Value), want.CreatedAt, want.TTL)
		}
	}
	for k := range m {
		if !strings.HasPrefix(k, e.ns) || !slices.Contains(keys, k) {
			e.failf(clauseBatch, "GetMany returned key %s, which was not asked for", short(k))
		}
	}
}
