package cachetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// Defaults used when the corresponding [Options] field is zero.
const (
	DefaultTTLGranularity        = 100 * time.Millisecond
	DefaultAdvanceTTLGranularity = time.Second
	DefaultMaxKeyLen             = 1024
	DefaultMaxValueBytes         = 1 << 20
	DefaultParallelism           = 8
)

// Options tells the kit about the backend under test. A nil *Options, and
// every zero field, means the default.
type Options struct {
	// Advance, when set, moves the driver's clock forward by d instead of
	// letting real time pass, for drivers with a clock seam such as
	// memorycache's Options.Now. When nil, the kit waits in real time for
	// its storage TTL checks, as it must for real backends like Redis.
	Advance func(d time.Duration)

	// TTLGranularity is the precision of the backend's storage TTL. The
	// kit's storage TTL checks use TTLs of a few times this and allow this
	// much lateness for an expiry. Default [DefaultTTLGranularity] (100ms)
	// in real time, [DefaultAdvanceTTLGranularity] (1s) with Advance.
	TTLGranularity time.Duration

	// Consistency is how long a write may take to become visible, for
	// eventually consistent backends. Zero means at once. When positive,
	// checks poll for the expected state until this long has passed instead
	// of asserting it at once, and the concurrency check does not assert
	// that a goroutine reads its own writes.
	Consistency time.Duration

	// MaxKeyLen is the length in bytes of the longest key the kit uses,
	// namespace included. Default [DefaultMaxKeyLen] (1 KiB), the least the
	// Driver contract allows.
	MaxKeyLen int

	// MaxValueBytes is the approximate size in bytes of the largest entry the
	// kit stores, as JSON. Default [DefaultMaxValueBytes] (1 MiB).
	MaxValueBytes int

	// UTF8Keys limits the kit to keys that are valid UTF-8 without NUL
	// bytes, for backends whose protocol cannot carry other keys (a JSON
	// API, say). By default the kit also tries binary keys.
	UTF8Keys bool

	// Parallelism is the number of goroutines of the concurrency checks.
	// Default [DefaultParallelism].
	Parallelism int
}

func (o *Options) resolve() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.TTLGranularity <= 0 {
		r.TTLGranularity = DefaultTTLGranularity
		if r.Advance != nil {
			r.TTLGranularity = DefaultAdvanceTTLGranularity
		}
	}
	if r.Consistency < 0 {
		r.Consistency = 0
	}
	if r.MaxKeyLen <= 0 {
		r.MaxKeyLen = DefaultMaxKeyLen
	}
	if r.MaxValueBytes <= 0 {
		r.MaxValueBytes = DefaultMaxValueBytes
	}
	if r.Parallelism <= 0 {
		r.Parallelism = DefaultParallelism
	}
	return r
}

// Error is one violation of the [cache.Driver] contract found by the kit.
type Error struct {
	// Check is the name of the check, as used for its subtest.
	Check string
	// Clause is the contract clause that was broken, quoted or paraphrased
	// from the documentation of [cache.Driver], [cache.Adder] or
	// [cache.BatchGetter] (or the seed test, for the seed's checks).
	Clause string
	// Detail says what happened, as got and want.
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("cachetest: %s: violates %q: %s", e.Check, e.Clause, e.Detail)
}

// Run runs every check as a subtest of t, named after the check. newDriver
// is called once per subtest and must return a fresh driver (it may share a
// backend with other drivers, see the package documentation); the kit closes
// it, when it implements [cache.Closer], at the end of the subtest. Checks of
// optional interfaces the driver does not implement are skipped.
func Run(t *testing.T, newDriver func(t *testing.T) cache.Driver, opts *Options) {
	t.Helper()
	o := opts.resolve()
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			d := newDriver(t)
			if d == nil {
				t.Fatal("cachetest: newDriver returned a nil Driver")
			}
			e := newEnv(c.name, d, o)
			t.Cleanup(func() {
				if err := e.close(); err != nil {
					t.Errorf("cachetest: %s: Close: %v", c.name, err)
				}
			})
			c.fn(t.Context(), e)
			for _, err := range e.errs {
				t.Error(err)
			}
			if e.skipped != "" {
				t.Skip(e.skipped)
			}
		})
	}
}

// Test runs every check against drivers returned by newDriver, one fresh
// driver per check, closing each (when it implements [cache.Closer]) after
// its check. It returns every violation, each an [*Error], joined with
// [errors.Join]; nil means the driver conforms. An error from newDriver or
// from Close is included too. Checks of optional interfaces the driver does
// not implement are skipped.
func Test(ctx context.Context, newDriver func() (cache.Driver, error), opts *Options) error {
	o := opts.resolve()
	var errs []error
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		d, err := newDriver()
		if err != nil {
			errs = append(errs, fmt.Errorf("cachetest: %s: newDriver: %w", c.name, err))
			continue
		}
		if d == nil {
			errs = append(errs, fmt.Errorf("cachetest: %s: newDriver returned a nil Driver", c.name))
			continue
		}
		e := newEnv(c.name, d, o)
		c.fn(ctx, e)
		errs = append(errs, e.errs...)
		if err := e.close(); err != nil {
			errs = append(errs, fmt.Errorf("cachetest: %s: Close: %w", c.name, err))
		}
	}
	return errors.Join(errs...)
}

// check is one check of the kit, run by both [Run] and [Test].
type check struct {
	name string
	fn   func(ctx context.Context, e *env)
}

// env is what a check works with: the driver, the options, a namespace of
// its own and the violations found so far.
type env struct {
	check   string
	d       cache.Driver
	o       Options
	version string // a Cache version unique to this check
	ns      string // "viborm:v<version>:", the prefix of every key
	errs    []error
	skipped string
	closed  bool // the driver was closed through a Cache
}

func newEnv(name string, d cache.Driver, o Options) *env {
	v := fmt.Sprintf("cachetest-%016x", rand.Uint64())
	return &env{check: name, d: d, o: o, version: v, ns: cache.Prefix(v) + ":"}
}

func (e *env) close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	if c, ok := e.d.(cache.Closer); ok {
		return c.Close()
	}
	return nil
}

// failf records a violation of clause.
func (e *env) failf(clause, format string, args ...any) {
	e.errs = append(e.errs, &Error{Check: e.check, Clause: clause, Detail: fmt.Sprintf(format, args...)})
}

func (e *env) skip(reason string) { e.skipped = reason }

// key returns a key in the check's namespace.
func (e *env) key(suffix string) string { return e.ns + suffix }

// eventually calls f until it returns nil, for up to Options.Consistency;
// with no Consistency it calls f once. It returns f's last error.
func (e *env) eventually(ctx context.Context, f func() error) error {
	err := f()
	if err == nil || e.o.Consistency == 0 {
		return err
	}
	deadline := time.Now().Add(e.o.Consistency)
	interval := max(e.o.Consistency/20, 5*time.Millisecond)
	for time.Now().Before(deadline) {
		if sleep(ctx, interval) != nil {
			return err
		}
		if err = f(); err == nil {
			return nil
		}
	}
	return err
}

// sleep waits for d of real time or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// storageTTL is the storage TTL of the kit's expiry checks.
func (e *env) storageTTL() time.Duration { return 3 * e.o.TTLGranularity }

// clauseError carries a clause from a helper to its caller.
type clauseError struct {
	clause string
	detail string
}

func (c *clauseError) Error() string { return c.detail }

func clausef(clause, format string, args ...any) error {
	return &clauseError{clause: clause, detail: fmt.Sprintf(format, args...)}
}

// report records err, when not nil, as a violation: of its own clause when it
// is a *clauseError, else of clause.
func (e *env) report(clause string, err error) bool {
	if err == nil {
		return false
	}
	var ce *clauseError
	if errors.As(err, &ce) {
		e.failf(ce.clause, "%s", ce.detail)
	} else {
		e.failf(clause, "%v", err)
	}
	return true
}

// set stores v under key for storageTTL, reporting a failure.
func (e *env) set(ctx context.Context, key string, storageTTL time.Duration, entry cache.Entry) bool {
	if err := e.d.Set(ctx, key, storageTTL, entry); err != nil {
		e.failf(clauseSet, "Set(%s) = %v, want nil", short(key), err)
		return false
	}
	return true
}

// present returns a nil error once Get(key) returns an entry whose value
// equals want (any value when want is nil).
func (e *env) present(ctx context.Context, key string, want any, clause string) error {
	return e.eventually(ctx, func() error {
		got, ok, err := e.d.Get(ctx, key)
		switch {
		case err != nil:
			return clausef(clauseGet, "Get(%s) of a stored key = %v, want nil error", short(key), err)
		case !ok:
			return clausef(clause, "Get(%s) = miss, want the stored entry", short(key))
		case want != nil && !equalValue(got.Value, want):
			return clausef(clause, "Get(%s).Value = %s, want %s", short(key), show(got.Value), show(want))
		}
		return nil
	})
}

// missing returns a nil error once Get(key) reports a miss.
func (e *env) missing(ctx context.Context, key string, clause string) error {
	return e.eventually(ctx, func() error {
		_, ok, err := e.d.Get(ctx, key)
		switch {
		case err != nil:
			return clausef(clauseMiss, "Get(%s) of a missing key = %v, want ok == false and a nil error", short(key), err)
		case ok:
			return clausef(clause, "Get(%s) = hit, want a miss", short(key))
		}
		return nil
	})
}

// equalValue reports whether a Value returned by a driver equals want: the
// same Go value, or the same JSON when got is a json.RawMessage.
func equalValue(got, want any) bool {
	if raw, ok := got.(json.RawMessage); ok {
		g, err := normalize(raw)
		if err != nil {
			return false
		}
		w, err := json.Marshal(want)
		if err != nil {
			return false
		}
		wn, err := normalize(w)
		if err != nil {
			return false
		}
		return reflect.DeepEqual(g, wn)
	}
	return reflect.DeepEqual(got, want)
}

func normalize(data []byte) (any, error) {
	var v any
	err := json.Unmarshal(data, &v)
	return v, err
}

// show formats a value for a message, shortened.
func show(v any) string {
	var s string
	if raw, ok := v.(json.RawMessage); ok {
		s = "json.RawMessage(" + string(raw) + ")"
	} else {
		s = fmt.Sprintf("%#v", v)
	}
	return shorten(s, 120)
}

// short formats a key for a message: quoted and shortened.
func short(key string) string { return shorten(fmt.Sprintf("%q", key), 120) }

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n/2] + fmt.Sprintf("…(%d bytes)…", len(s)-n) + s[len(s)-n/2:]
}
