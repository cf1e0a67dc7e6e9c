package cachetest_test

import (
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/cachetest"
	"github.com/viborm/viborm-go/cache/memorycache"
)

// clock is a fake clock shared by the drivers of one test.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestMemorycache(t *testing.T) {
	clk := newClock()
	cachetest.Run(t, func(t *testing.T) cache.Driver {
		d, err := memorycache.New(&memorycache.Options{Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, &cachetest.Options{Advance: clk.Advance})
}

func TestMemorycacheWithByteBound(t *testing.T) {
	clk := newClock()
	err := cachetest.Test(t.Context(), func() (cache.Driver, error) {
		return memorycache.New(&memorycache.Options{MaxBytes: 64 << 20, Now: clk.Now})
	}, &cachetest.Options{Advance: clk.Advance})
	if err != nil {
		t.Error(err)
	}
}

// mapDriver is a simple correct driver: a map under a mutex, with a clock.
// It serializes nothing and implements every optional interface.
type mapDriver struct {
	now    func() time.Time
	mu     sync.Mutex
	m      map[string]mapItem
	leases map[string]mapItem // the token in Value
	seq    int
	deps   map[string]map[string]time.Time // tag → key → record expiry (deps_test.go)
}

type mapItem struct {
	e       cache.Entry
	expires time.Time
}

func newMapDriver(now func() time.Time) *mapDriver {
	return &mapDriver{now: now, m: make(map[string]mapItem), leases: make(map[string]mapItem)}
}

func (d *mapDriver) Name() string { return "map" }

func (d *mapDriver) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return cache.Entry{}, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	it, ok := d.m[key]
	if !ok || !d.now().Before(it.expires) {
		return cache.Entry{}, false, nil
	}
	return it.e, true, nil
}

func (d *mapDriver) Set(ctx context.Context, key string, ttl time.Duration, e cache.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.m[key] = mapItem{e: e, expires: d.now().Add(ttl)}
	return nil
}

func (d *mapDriver) Add(ctx context.Context, key string, ttl time.Duration, e cache.Entry) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if it, ok := d.m[key]; ok && d.now().Before(it.expires) {
		return false, nil
	}
	d.m[key] = mapItem{e: e, expires: d.now().Add(ttl)}
	return true, nil
}

func (d *mapDriver) GetMany(ctx context.Context, keys []string) (map[string]cache.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]cache.Entry)
	for _, k := range keys {
		if e, ok, _ := d.Get(ctx, k); ok {
			out[k] = e
		}
	}
	return out, nil
}

func (d *mapDriver) Delete(ctx context.Context, keys []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		delete(d.m, k)
		delete(d.leases, k)
	}
	return nil
}

func (d *mapDriver) Lease(ctx context.Context, key string, ttl time.Duration) (string, cache.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", cache.Entry{}, false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var e cache.Entry
	it, ok := d.m[key]
	if ok = ok && d.now().Before(it.expires); ok {
		e = it.e
	}
	if l, held := d.leases[key]; held && d.now().Before(l.expires) {
		return "", e, ok, nil
	}
	d.seq++
	tok := fmt.Sprint("token-", d.seq)
	d.leases[key] = mapItem{e: cache.Entry{Value: tok}, expires: d.now().Add(ttl)}
	return tok, e, ok, nil
}

func (d *mapDriver) SetLeased(ctx context.Context, key, tok string, ttl time.Duration, e cache.Entry) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	l, held := d.leases[key]
	if !held || l.e.Value != tok || !d.now().Before(l.expires) {
		return false, nil
	}
	delete(d.leases, key)
	d.m[key] = mapItem{e: e, expires: d.now().Add(ttl)}
	return true, nil
}

func (d *mapDriver) Release(ctx context.Context, key, tok string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, held := d.leases[key]; held && l.e.Value == tok {
		delete(d.leases, key)
	}
	return nil
}

func (d *mapDriver) Clear(ctx context.Context, prefix string) error {
	return d.clearMatching(ctx, func(k string) bool { return strings.HasPrefix(k, prefix) })
}

func (d *mapDriver) clearMatching(ctx context.Context, match func(string) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.m {
		if match(k) {
			delete(d.m, k)
		}
	}
	for k := range d.leases {
		if match(k) {
			delete(d.leases, k)
		}
	}
	return nil
}

func TestCorrectDriverConforms(t *testing.T) {
	clk := newClock()
	err := cachetest.Test(t.Context(), func() (cache.Driver, error) {
		return newMapDriver(clk.Now), nil
	}, &cachetest.Options{Advance: clk.Advance})
	if err != nil {
		t.Errorf("Test(correct driver) = %v, want nil", err)
	}
}

func TestCorrectDriverConformsInRealTime(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for real storage TTLs")
	}
	err := cachetest.Test(t.Context(), func() (cache.Driver, error) {
		return newMapDriver(time.Now), nil
	}, &cachetest.Options{TTLGranularity: 20 * time.Millisecond})
	if err != nil {
		t.Errorf("Test(correct driver, real time) = %v, want nil", err)
	}
}

// jsonDriver serializes entries like a networked driver: Get returns the
// Value as a json.RawMessage.
type jsonDriver struct{ *mapDriver }

func (d jsonDriver) roundTrip(e cache.Entry) (cache.Entry, error) {
	b, err := cache.MarshalEntry(e, nil)
	if err != nil {
		return cache.Entry{}, err
	}
	return cache.UnmarshalEntry(b)
}

func (d jsonDriver) Set(ctx context.Context, key string, ttl time.Duration, e cache.Entry) error {
	e, err := d.roundTrip(e)
	if err != nil {
		return err
	}
	return d.mapDriver.Set(ctx, key, ttl, e)
}

func (d jsonDriver) Add(ctx context.Context, key string, ttl time.Duration, e cache.Entry) (bool, error) {
	e, err := d.roundTrip(e)
	if err != nil {
		return false, err
	}
	return d.mapDriver.Add(ctx, key, ttl, e)
}

func TestSerializingDriverConforms(t *testing.T) {
	clk := newClock()
	err := cachetest.Test(t.Context(), func() (cache.Driver, error) {
		return jsonDriver{newMapDriver(clk.Now)}, nil
	}, &cachetest.Options{Advance: clk.Advance})
	if err != nil {
		t.Errorf("Test(serializing driver) = %v, want nil", err)
	}
}

// The broken drivers: each wraps mapDriver and breaks one clause.

type globClear struct{ *mapDriver }

// Clear treats * and ? as wildcards, like an unescaped SCAN MATCH.
func (d globClear) Clear(ctx context.Context, prefix string) error {
	return d.clearMatching(ctx, func(k string) bool {
		ok, _ := path.Match(prefix+"*", k)
		return ok || strings.HasPrefix(k, prefix)
	})
}

type substringClear struct{ *mapDriver }

func (d substringClear) Clear(ctx context.Context, prefix string) error {
	return d.clearMatching(ctx, func(k string) bool { return strings.Contains(k, prefix) })
}

type missIsError struct{ *mapDriver }

var errNotFound = errors.New("not found")

func (d missIsError) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	e, ok, err := d.mapDriver.Get(ctx, key)
	if err == nil && !ok {
		err = errNotFound
	}
	return e, ok, err
}

type ignoresTTL struct{ *mapDriver }

func (d ignoresTTL) Set(ctx context.Context, key string, _ time.Duration, e cache.Entry) error {
	return d.mapDriver.Set(ctx, key, 100*365*24*time.Hour, e)
}

func (d ignoresTTL) Add(ctx context.Context, key string, _ time.Duration, e cache.Entry) (bool, error) {
	return d.mapDriver.Add(ctx, key, 100*365*24*time.Hour, e)
}

type deleteEmptyErrors struct{ *mapDriver }

func (d deleteEmptyErrors) Delete(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return errors.New("DEL needs at least one key")
	}
	return d.mapDriver.Delete(ctx, keys)
}

type deleteMissingErrors struct{ *mapDriver }

func (d deleteMissingErrors) Delete(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if _, ok, _ := d.mapDriver.Get(ctx, k); !ok {
			return fmt.Errorf("no such key")
		}
	}
	return d.mapDriver.Delete(ctx, keys)
}

type secondPrecision struct{ *mapDriver }

func (d secondPrecision) Set(ctx context.Context, key string, ttl time.Duration, e cache.Entry) error {
	e.CreatedAt = e.CreatedAt.Truncate(time.Second)
	return d.mapDriver.Set(ctx, key, ttl, e)
}

type mangledTTL struct{ *mapDriver }

func (d mangledTTL) Set(ctx context.Context, key string, ttl time.Duration, e cache.Entry) error {
	e.TTL = e.TTL.Round(time.Second) // seconds instead of milliseconds
	return d.mapDriver.Set(ctx, key, ttl, e)
}

type racyAdd struct{ *mapDriver }

func (d racyAdd) Add(ctx context.Context, key string, ttl time.Duration, e cache.Entry) (bool, error) {
	if _, ok, err := d.Get(ctx, key); ok || err != nil {
		return false, err
	}
	runtime.Gosched() // a network round trip would sit here
	return true, d.Set(ctx, key, ttl, e)
}

type ignoresContext struct{ *mapDriver }

func (d ignoresContext) Get(_ context.Context, key string) (cache.Entry, bool, error) {
	return d.mapDriver.Get(context.Background(), key)
}

func (d ignoresContext) Clear(_ context.Context, prefix string) error {
	return d.mapDriver.Clear(context.Background(), prefix)
}

type getManyDisagrees struct{ *mapDriver }

// GetMany reports missing keys as zero entries.
func (d getManyDisagrees) GetMany(ctx context.Context, keys []string) (map[string]cache.Entry, error) {
	out, err := d.mapDriver.GetMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			out[k] = cache.Entry{}
		}
	}
	return out, err
}

// deleteKeepsLeases deletes entries but not their leases.
type deleteKeepsLeases struct{ *mapDriver }

func (d deleteKeepsLeases) Delete(ctx context.Context, keys []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		delete(d.m, k)
	}
	return nil
}

// clearKeepsLeases clears entries but not their leases.
type clearKeepsLeases struct{ *mapDriver }

func (d clearKeepsLeases) Clear(ctx context.Context, prefix string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k := range d.m {
		if strings.HasPrefix(k, prefix) {
			delete(d.m, k)
		}
	}
	return nil
}

// setLeasedIgnoresToken stores whatever the token.
type setLeasedIgnoresToken struct{ *mapDriver }

func (d setLeasedIgnoresToken) SetLeased(ctx context.Context, key, _ string, ttl time.Duration, e cache.Entry) (bool, error) {
	return true, d.Set(ctx, key, ttl, e)
}

type emptyName struct{ *mapDriver }

func (emptyName) Name() string { return "" }

// TestBrokenDriversAreCaught runs the kit against drivers that each break one
// clause, and checks that the failure names that clause.
func TestBrokenDriversAreCaught(t *testing.T) {
	tests := []struct {
		name       string
		wrap       func(*mapDriver) cache.Driver
		wantCheck  string
		wantClause string
	}{
		{"glob prefix", func(d *mapDriver) cache.Driver { return globClear{d} },
			"ClearLiteral", "no character in prefix is special"},
		{"substring instead of prefix", func(d *mapDriver) cache.Driver { return substringClear{d} },
			"ClearSeparator", "Clear removes only keys that start with prefix"},
		{"miss reported as error", func(d *mapDriver) cache.Driver { return missIsError{d} },
			"MissIsNotAnError", "a miss is never an error"},
		{"storage TTL ignored", func(d *mapDriver) cache.Driver { return ignoresTTL{d} },
			"StorageTTL", "after storageTTL has elapsed, Get must report a miss"},
		{"Delete of empty keys errors", func(d *mapDriver) cache.Driver { return deleteEmptyErrors{d} },
			"DeleteNone", "an empty keys is a no-op"},
		{"Delete of missing key errors", func(d *mapDriver) cache.Driver { return deleteMissingErrors{d} },
			"DeleteMissing", "keys that do not exist are ignored"},
		{"CreatedAt truncated to seconds", func(d *mapDriver) cache.Driver { return secondPrecision{d} },
			"EntryFidelity", "CreatedAt and TTL exactly as given"},
		{"TTL rounded to seconds", func(d *mapDriver) cache.Driver { return mangledTTL{d} },
			"EntryFidelity", "CreatedAt and TTL exactly as given"},
		{"Add not atomic", func(d *mapDriver) cache.Driver { return racyAdd{d} },
			"AddExclusive", "exactly one must report true"},
		{"cancelled context ignored", func(d *mapDriver) cache.Driver { return ignoresContext{d} },
			"CanceledContext", "context that is already done must return that context's error"},
		{"GetMany disagrees with Get", func(d *mapDriver) cache.Driver { return getManyDisagrees{d} },
			"GetMany", "must agree with calling Get"},
		{"empty name", func(d *mapDriver) cache.Driver { return emptyName{d} },
			"Name", "Name returns a short constant name"},
		{"Delete keeps leases", func(d *mapDriver) cache.Driver { return deleteKeepsLeases{d} },
			"LeaseVoidedByDelete", "Delete voids the leases of its keys"},
		{"Clear keeps leases", func(d *mapDriver) cache.Driver { return clearKeepsLeases{d} },
			"LeaseVoidedByClear", "Clear voids the leases of every key starting with its prefix"},
		{"SetLeased ignores the token", func(d *mapDriver) cache.Driver { return setLeasedIgnoresToken{d} },
			"LeaseSetLeased", "SetLeased stores e under key if and only if token is key's lease"},
		{"ClearDeps deletes nothing", func(d *mapDriver) cache.Driver { return clearDepsNoop{d} },
			"DepsClear", "ClearDeps deletes every key recorded under any of tags"},
		{"ClearDeps deletes every indexed key", func(d *mapDriver) cache.Driver { return clearDepsAll{d} },
			"DepsClear", "ClearDeps deletes only keys recorded under its tags"},
		{"ClearDeps keeps records", func(d *mapDriver) cache.Driver { return clearDepsKeepsRecords{d} },
			"DepsClear", "ClearDeps forgets the records it cleared"},
		{"ClearDeps keeps leases", func(d *mapDriver) cache.Driver { return clearDepsKeepsLeases{d} },
			"DepsVoidLeases", "ClearDeps voids the leases of the keys it deletes"},
		{"records shorter than ttl", func(d *mapDriver) cache.Driver { return shortDepRecords{d} },
			"DepsRecordLifetime", "IndexDeps must keep each record at least ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			err := cachetest.Test(t.Context(), func() (cache.Driver, error) {
				return tt.wrap(newMapDriver(clk.Now)), nil
			}, &cachetest.Options{Advance: clk.Advance})
			if err == nil {
				t.Fatalf("Test(%s) = nil, want a violation of %q", tt.name, tt.wantClause)
			}
			var found bool
			for _, v := range violations(err) {
				if v.Check == tt.wantCheck && strings.Contains(v.Clause, tt.wantClause) {
					found = true
				}
			}
			if !found {
				t.Errorf("Test(%s) found no violation of %q by check %s; got:\n%v", tt.name, tt.wantClause, tt.wantCheck, err)
			}
			if !strings.Contains(err.Error(), tt.wantClause) {
				t.Errorf("Test(%s) error does not mention %q", tt.name, tt.wantClause)
			}
		})
	}
}

// violations returns the *cachetest.Error values joined in err.
func violations(err error) []*cachetest.Error {
	var out []*cachetest.Error
	var walk func(error)
	walk = func(err error) {
		if v, ok := err.(*cachetest.Error); ok {
			out = append(out, v)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

// TestRunSkipsMissingCapabilities checks that the checks of an optional
// interface are skipped, and only those, when the driver does not implement
// it; and that a driver implementing every interface skips nothing.
func TestRunSkipsMissingCapabilities(t *testing.T) {
	type plain struct{ cache.Driver } // hides Adder, BatchGetter, Leaser and Closer
	for _, tc := range []struct {
		name string
		wrap func(*mapDriver) cache.Driver
		want []string // the checks skipped
	}{
		{"plain", func(d *mapDriver) cache.Driver { return plain{d} },
			[]string{"AddAfterExpiry", "AddExclusive", "AddPresent", "DepsClear", "DepsConcurrent", "DepsRecordLifetime",
				"DepsUnknownTag", "DepsVoidLeases", "GetMany", "LeaseExclusive", "LeaseExpiry",
				"LeaseRelease", "LeaseSetLeased", "LeaseVoidedByClear", "LeaseVoidedByDelete"}},
		{"full", func(d *mapDriver) cache.Driver { return d }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			var (
				mu           sync.Mutex
				ran, skipped []string
			)
			cachetest.Run(t, func(t *testing.T) cache.Driver {
				t.Cleanup(func() { // runs after the check, skipped or not
					mu.Lock()
					defer mu.Unlock()
					ran = append(ran, path.Base(t.Name()))
					if t.Skipped() {
						skipped = append(skipped, path.Base(t.Name()))
					}
				})
				return tc.wrap(newMapDriver(clk.Now))
			}, &cachetest.Options{Advance: clk.Advance})
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(skipped)
			if !slices.Equal(skipped, tc.want) {
				t.Errorf("skipped checks %q, want %q (of %d run)", skipped, tc.want, len(ran))
			}
			if len(ran) < 20 {
				t.Errorf("only %d checks ran: %q", len(ran), ran)
			}
			// Test, the other form, skips the same checks without an error.
			err := cachetest.Test(t.Context(), func() (cache.Driver, error) {
				return tc.wrap(newMapDriver(clk.Now)), nil
			}, &cachetest.Options{Advance: clk.Advance})
			if err != nil {
				t.Errorf("Test(%s) = %v, want nil", tc.name, err)
			}
		})
	}
}

func TestKeysStayInTheNamespace(t *testing.T) {
	clk := newClock()
	var (
		mu      sync.Mutex
		outside []string
	)
	err := cachetest.Test(t.Context(), func() (cache.Driver, error) {
		return &recorder{mapDriver: newMapDriver(clk.Now), record: func(op, k string) {
			if !strings.HasPrefix(k, "viborm:vcachetest-") || len(k) < len("viborm:vcachetest-0123456789abcdef:") {
				mu.Lock()
				outside = append(outside, op+" "+k)
				mu.Unlock()
			}
		}}, nil
	}, &cachetest.Options{Advance: clk.Advance})
	if err != nil {
		t.Fatal(err)
	}
	if len(outside) > 0 {
		t.Errorf("the kit used keys or prefixes outside its namespace: %q", outside)
	}
}

// recorder records every key and prefix the kit passes to the driver.
type recorder struct {
	*mapDriver
	record func(op, key string)
}

func (r *recorder) Get(ctx context.Context, k string) (cache.Entry, bool, error) {
	r.record("Get", k)
	return r.mapDriver.Get(ctx, k)
}

func (r *recorder) Set(ctx context.Context, k string, ttl time.Duration, e cache.Entry) error {
	r.record("Set", k)
	return r.mapDriver.Set(ctx, k, ttl, e)
}

func (r *recorder) Add(ctx context.Context, k string, ttl time.Duration, e cache.Entry) (bool, error) {
	r.record("Add", k)
	return r.mapDriver.Add(ctx, k, ttl, e)
}

func (r *recorder) Delete(ctx context.Context, keys []string) error {
	for _, k := range keys {
		r.record("Delete", k)
	}
	return r.mapDriver.Delete(ctx, keys)
}

func (r *recorder) Clear(ctx context.Context, prefix string) error {
	r.record("Clear", prefix)
	return r.mapDriver.Clear(ctx, prefix)
}

func (r *recorder) GetMany(ctx context.Context, keys []string) (map[string]cache.Entry, error) {
	for _, k := range keys {
		r.record("GetMany", k)
	}
	return r.mapDriver.GetMany(ctx, keys)
}
