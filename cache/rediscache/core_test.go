package rediscache_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/internal/testenv"
)

type row struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func newCache(t testing.TB, d cache.Driver, timeout time.Duration) *cache.Cache {
	t.Helper()
	c, err := cache.New(d, &cache.Options{
		Timeout:   timeout,
		WaitUntil: cache.Inline, // writes finish before Load returns
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestCorruptEntryIsAMissThroughLoad guards the read path against bytes that
// are not an entry: the loader answers and the next fill replaces them.
func TestCorruptEntryIsAMissThroughLoad(t *testing.T) {
	for _, garbage := range []string{"\xff\x00not json", `{"value":1}`, `{"value":"a string, not rows","createdAt":1,"ttl":60000}`} {
		client := singleClient(t)
		ctx := context.Background()
		c := newCache(t, newDriver(t, client, nil), time.Second)
		key := c.FullKey("user:findMany:corrupt")
		if err := client.Set(ctx, key, garbage, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		var loads atomic.Int32
		load := func(context.Context) ([]row, error) {
			loads.Add(1)
			return []row{{1, "Ada"}}, nil
		}
		for i := range 3 {
			got, err := cache.Load(ctx, c, "user:findMany:corrupt", cache.Policy{TTL: time.Minute}, load)
			if err != nil || len(got) != 1 || got[0].Name != "Ada" {
				t.Fatalf("Load #%d over %q = %v, %v", i, garbage, got, err)
			}
		}
		if n := loads.Load(); n != 1 {
			t.Errorf("over %q: loader ran %d times, want 1 (a miss, then hits)", garbage, n)
		}
		raw, err := client.Get(ctx, key).Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cache.UnmarshalEntry(raw); err != nil {
			t.Errorf("the fill did not replace %q: %q: %v", garbage, raw, err)
		}
	}
}

// TestReadsSurviveServerDeath kills (kill -9) or freezes (SIGSTOP) the
// Redis server under a cache, then restarts or thaws it. Every read answers
// from the loader while the server is gone, with the driver's failure
// recorded; after a few failed calls the circuit breaker opens, and then no
// read or write reaches the driver at all (counted through a wrapper) and
// writes fail at once with ErrBreakerOpen. The breaker stays open until its
// cool-down has passed on the cache's clock, a fake one here, then probes
// the server and closes, and caching resumes. It asserts behaviour only,
// never elapsed time; the latency of reads and writes before, during and
// after the fault is logged (-v).
//
// It runs with a client that applies context deadlines to its I/O (the
// cache then calls the driver directly) and with one that does not (the
// cache then enforces its timeout from a goroutine of its own), each fault
// on a fresh server, client and cache.
func TestReadsSurviveServerDeath(t *testing.T) {
	for _, ctxTimeout := range []bool{true, false} {
		for _, fault := range []string{"kill", "stop"} {
			name := map[bool]string{true: "ContextTimeoutEnabled", false: "ContextTimeoutDisabled"}[ctxTimeout] + "/" + fault
			t.Run(name, func(t *testing.T) { readsSurviveServerDeath(t, ctxTimeout, fault) })
		}
	}
}

// outage is the state of one run of readsSurviveServerDeath.
type outage struct {
	t     *testing.T
	srv   *testenv.PrivateRedis
	c     *cache.Cache
	d     *countingDriver
	now   atomic.Int64 // the cache's clock, in Unix nanoseconds
	loads atomic.Int64
	last  atomic.Pointer[cache.Event] // the last read's event

	mu      sync.Mutex
	changes []string // the breaker's state changes, "from>to"
}

// The settings of readsSurviveServerDeath: the cache's and the client's
// timeouts, long enough that a healthy server on a loaded machine meets
// them (a read that times out anyway is tolerated while the server is up),
// and the breaker's.
const (
	outageTimeout  = 300 * time.Millisecond
	outageFailures = 3
	outageCoolDown = time.Second // on the fake clock
)

func readsSurviveServerDeath(t *testing.T, ctxTimeout bool, fault string) {
	srv := testenv.StartPrivateRedis(t)
	client := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr,
		DialTimeout:           outageTimeout,
		ReadTimeout:           outageTimeout,
		WriteTimeout:          outageTimeout,
		PoolTimeout:           outageTimeout,
		MaxRetries:            -1,
		ContextTimeoutEnabled: ctxTimeout,
	})
	t.Cleanup(func() { client.Close() })
	o := &outage{t: t, srv: srv, d: &countingDriver{Driver: newDriver(t, client, nil)}}
	o.now.Store(t0.UnixNano())
	c, err := cache.New(o.d, &cache.Options{
		Timeout:   outageTimeout,
		WaitUntil: cache.Inline, // a read's fill ends before Load returns
		Logger:    slog.New(slog.DiscardHandler),
		Observer:  func(e cache.Event) { o.last.Store(&e) },
		Now:       func() time.Time { return time.Unix(0, o.now.Load()) },
		Breaker:   &cache.BreakerOptions{Failures: outageFailures, CoolDown: outageCoolDown},
		OnBreakerChange: func(from, to cache.BreakerState) {
			o.mu.Lock()
			o.changes = append(o.changes, from.String()+">"+to.String())
			o.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	o.c = c

	if o.read("cold").Outcome != cache.OutcomeMiss {
		t.Fatal("the cold read did not miss")
	}
	for {
		if e := o.read("warm"); e.Outcome == cache.OutcomeHit {
			break
		} else if !o.slowMiss(e) {
			t.Fatalf("the warm read = %v (driver error %v), want a hit", e.Outcome, e.DriverErr)
		}
	}
	o.phase("before", cache.OutcomeHit)
	if st := c.BreakerState(); st != cache.BreakerClosed {
		t.Fatalf("breaker %v with the server up", st)
	}

	switch fault {
	case "kill":
		srv.Kill()
		o.down("kill -9")
		srv.Start() // the same port, empty
		o.resume("after restart")
	case "stop":
		// A frozen server accepts connections but never answers.
		srv.Signal(syscall.SIGSTOP)
		o.down("SIGSTOP")
		srv.Signal(syscall.SIGCONT)
		o.resume("after SIGCONT")
	}
}

const outageKey = "user:findMany:k"

// read does one cached read, which must answer the loader's rows, and
// returns its event.
func (o *outage) read(what string) cache.Event {
	o.t.Helper()
	o.last.Store(nil)
	got, err := cache.Load(context.Background(), o.c, outageKey, cache.Policy{TTL: time.Hour}, o.load)
	if err != nil || len(got) != 1 || got[0].ID != 7 {
		o.t.Fatalf("%s: Load = %v, %v", what, got, err)
	}
	e := o.last.Load()
	if e == nil {
		o.t.Fatalf("%s: the Observer saw no event", what)
	}
	return *e
}

func (o *outage) load(context.Context) ([]row, error) {
	o.loads.Add(1)
	return []row{{7, "Grace"}}, nil
}

// phaseReads and phaseWrites are how many reads, and writes of each kind,
// a phase measures.
const phaseReads, phaseWrites = 200, 50

// phase measures reads, each of which must have outcome want, and writes
// (a Set and an Invalidate of the model, both with no deadline of their own,
// like the invalidation after a committed write), and logs their latency.
// It returns the reads' events and the writes' errors.
func (o *outage) phase(what string, want cache.Outcome) (events []cache.Event, writeErrs []error) {
	o.t.Helper()
	reads := make([]time.Duration, 0, phaseReads)
	slow := 0 // reads of a healthy phase that timed out
	for range phaseReads {
		start := time.Now()
		e := o.read(what)
		reads = append(reads, time.Since(start))
		switch {
		case e.Outcome == want:
		case want == cache.OutcomeHit && o.slowMiss(e):
			slow++
		default:
			o.t.Fatalf("%s: a read = %v (driver error %v), want %v", what, e.Outcome, e.DriverErr, want)
		}
		events = append(events, e)
	}
	var sets, invals []time.Duration
	ctx := context.Background()
	for range phaseWrites {
		start := time.Now()
		writeErrs = append(writeErrs, o.c.Set(ctx, "user:findMany:w", []row{{1, "w"}}, cache.Policy{TTL: time.Hour}))
		sets = append(sets, time.Since(start))
		start = time.Now()
		writeErrs = append(writeErrs, o.c.InvalidateModel(ctx, "post"))
		invals = append(invals, time.Since(start))
	}
	o.t.Logf("%-22s read p50 %8v p99 %8v | Set p50 %8v p99 %8v | InvalidateModel p50 %8v p99 %8v",
		what+":", pct(reads, 50), pct(reads, 99), pct(sets, 50), pct(sets, 99), pct(invals, 50), pct(invals, 99))
	if want == cache.OutcomeHit {
		for i, err := range writeErrs {
			if err != nil && !isTimeout(err) {
				o.t.Fatalf("%s: write %d = %v", what, i, err)
			}
		}
		if slow > 0 {
			o.t.Logf("%s: %d reads timed out (a loaded machine) and were answered by the loader", what, slow)
		}
	}
	return events, writeErrs
}

// slowMiss reports whether e is a miss that a healthy server may cause on a
// loaded machine: its driver call timed out, and the loader answered.
func (o *outage) slowMiss(e cache.Event) bool {
	return e.Outcome == cache.OutcomeMiss && isTimeout(e.DriverErr) && o.c.BreakerState() == cache.BreakerClosed
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// down checks the phase where the server is gone: every read is answered by
// the loader with the driver's failure recorded; the breaker opens after
// outageFailures failed calls, and from then on neither reads nor writes
// call the driver and writes fail with ErrBreakerOpen.
func (o *outage) down(what string) {
	o.t.Helper()
	var opening []time.Duration // the reads until the breaker opened
	for o.c.BreakerState() != cache.BreakerOpen {
		if len(opening) == outageFailures {
			o.t.Fatalf("%s: the breaker is %v after %d failed reads", what, o.c.BreakerState(), len(opening))
		}
		start := time.Now()
		e := o.read(what)
		opening = append(opening, time.Since(start))
		if e.Outcome != cache.OutcomeMiss || e.DriverErr == nil {
			o.t.Fatalf("%s: a read = %v with driver error %v, want a miss with one", what, e.Outcome, e.DriverErr)
		}
	}
	o.t.Logf("%-22s %d reads until the breaker opened, the slowest %v", what+":", len(opening), slices.Max(opening).Round(time.Microsecond))
	if got := o.changed(); !slices.Equal(got, []string{"closed>open"}) {
		o.t.Errorf("%s: breaker changes %q, want [closed>open]", what, got)
	}

	calls, loads := o.d.calls.Load(), o.loads.Load()
	events, writeErrs := o.phase(what+", open", cache.OutcomeMiss)
	if n := o.loads.Load() - loads; n != phaseReads {
		o.t.Errorf("%s: %d reads ran the loader %d times, want once each", what, phaseReads, n)
	}
	if n := o.d.calls.Load() - calls; n != 0 {
		o.t.Errorf("%s: %d driver calls with the breaker open, want none", what, n)
	}
	for i, e := range events {
		if !errors.Is(e.DriverErr, cache.ErrBreakerOpen) {
			o.t.Fatalf("%s: read %d recorded %v, want ErrBreakerOpen", what, i, e.DriverErr)
		}
	}
	for i, err := range writeErrs {
		if !errors.Is(err, cache.ErrBreakerOpen) {
			o.t.Fatalf("%s: write %d = %v, want ErrBreakerOpen", what, i, err)
		}
	}
}

// resume checks that the breaker stays open until its cool-down has passed,
// then probes the server, which is back, and closes; and that caching
// resumes: a read fills the cache and the next one hits.
func (o *outage) resume(what string) {
	o.t.Helper()
	calls := o.d.calls.Load()
	if e := o.read(what); !errors.Is(e.DriverErr, cache.ErrBreakerOpen) || o.d.calls.Load() != calls {
		o.t.Fatalf("%s: before the cool-down, a read recorded %v and called the driver %d times; want ErrBreakerOpen and none",
			what, e.DriverErr, o.d.calls.Load()-calls)
	}
	// The client may take a while to find the server again: go-redis's pool,
	// after repeated dial errors, answers with the last one and redials in
	// the background about once a second. Until it does, each probe fails
	// and opens the breaker for another cool-down.
	deadline := time.Now().Add(30 * time.Second) // generous
	probes := 0
	for o.c.BreakerState() != cache.BreakerClosed {
		if time.Now().After(deadline) {
			o.t.Fatalf("%s: the breaker did not close after %d probes: %v", what, probes, o.last.Load().DriverErr)
		}
		if probes > 0 {
			time.Sleep(10 * time.Millisecond) // polling the client's reconnection
		}
		o.now.Add(int64(outageCoolDown))
		calls := o.d.calls.Load()
		o.read(what)
		probes++
		if o.d.calls.Load() == calls {
			o.t.Fatalf("%s: after the cool-down, a read did not probe the driver", what)
		}
	}
	got := o.changed()
	if n := len(got); n < 2 || got[n-2] != "open>half-open" || got[n-1] != "half-open>closed" {
		o.t.Errorf("%s: breaker changes %q, want them to end with open>half-open, half-open>closed", what, got)
	}
	o.t.Logf("%-22s the breaker closed after %d probes", what+":", probes)
	o.read(what) // fills, if the probe did not hit
	for {
		if e := o.read(what); e.Outcome == cache.OutcomeHit {
			break
		} else if !o.slowMiss(e) {
			o.t.Fatalf("%s: caching did not resume: a read = %v, %v", what, e.Outcome, e.DriverErr)
		}
	}
	o.phase(what, cache.OutcomeHit)
}

// changed returns the breaker changes seen since the last call.
func (o *outage) changed() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	got := o.changes
	o.changes = nil
	return got
}

// pct returns the p-th percentile of ds (nearest rank).
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)].Round(time.Microsecond)
}

// countingDriver counts the calls that reach the driver.
type countingDriver struct {
	*rediscache.Driver
	calls atomic.Int64
}

func (d *countingDriver) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	d.calls.Add(1)
	return d.Driver.Get(ctx, key)
}

func (d *countingDriver) Set(ctx context.Context, key string, ttl time.Duration, e cache.Entry) error {
	d.calls.Add(1)
	return d.Driver.Set(ctx, key, ttl, e)
}

func (d *countingDriver) Add(ctx context.Context, key string, ttl time.Duration, e cache.Entry) (bool, error) {
	d.calls.Add(1)
	return d.Driver.Add(ctx, key, ttl, e)
}

func (d *countingDriver) GetMany(ctx context.Context, keys []string) (map[string]cache.Entry, error) {
	d.calls.Add(1)
	return d.Driver.GetMany(ctx, keys)
}

func (d *countingDriver) Delete(ctx context.Context, keys []string) error {
	d.calls.Add(1)
	return d.Driver.Delete(ctx, keys)
}

func (d *countingDriver) Clear(ctx context.Context, prefix string) error {
	d.calls.Add(1)
	return d.Driver.Clear(ctx, prefix)
}
