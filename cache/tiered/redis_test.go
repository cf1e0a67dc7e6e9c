package tiered_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/cachetest"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/tiered"
	"github.com/viborm/viborm-go/internal/testenv"
)

// sharedDB is the database of the shared Redis these tests use. They keep
// to random key prefixes and channels of their own and never flush it.
const sharedDB = 9

// guard bounds every wait for a bus event delivered by Redis: generous, so
// that a loaded machine never fails a test; no assertion is made on time.
const guard = 30 * time.Second

func randomName(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func sharedClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), DB: sharedDB, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// instance is one tiered driver of its own (L1 and subscription) over a
// Redis client, with its bus events on a channel.
type instance struct {
	*tiered.Driver
	events chan stamped
	// gate, when set, holds the bus goroutine inside each "lost" event
	// until the test sends on it: the subscription cannot come back
	// meanwhile.
	gate chan struct{}
}

func newInstance(t testing.TB, c *redis.Client, channel string, busOpts *rediscache.BusOptions, opts *tiered.Options) *instance {
	t.Helper()
	return newGatedInstance(t, c, channel, busOpts, opts, nil)
}

func newGatedInstance(t testing.TB, c *redis.Client, channel string, busOpts *rediscache.BusOptions, opts *tiered.Options, gate chan struct{}) *instance {
	t.Helper()
	l2, err := rediscache.New(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	bo := rediscache.BusOptions{Channel: channel}
	if busOpts != nil {
		bo = *busOpts
		bo.Channel = channel
	}
	bus, err := rediscache.NewBus(c, &bo)
	if err != nil {
		t.Fatal(err)
	}
	if opts == nil {
		opts = &tiered.Options{Logger: quiet}
	}
	in := &instance{events: make(chan stamped, 1024), gate: gate}
	in.Driver, err = tiered.NewHooked(l2, bus, opts, func(ev tiered.Event) {
		select {
		case in.events <- stamped{ev, time.Now()}:
		default: // a benchmark that does not read them
		}
		if ev.Kind == "lost" && in.gate != nil {
			<-in.gate
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if gate != nil {
			close(gate) // let a held "lost" event go, so Close can finish
		}
		in.Close()
	})
	return in
}

// stamped is a bus event with the time it was applied.
type stamped struct {
	tiered.Event
	at time.Time
}

// await waits for the next event of kind, skipping others.
func (in *instance) await(t testing.TB, kind string) stamped {
	t.Helper()
	timer := time.NewTimer(guard)
	defer timer.Stop()
	for {
		select {
		case ev := <-in.events:
			if ev.Kind == kind {
				return ev
			}
		case <-timer.C:
			t.Fatalf("no %q bus event within %v", kind, guard)
		}
	}
}

func TestConformanceOverRedis(t *testing.T) {
	c := sharedClient(t)
	cachetest.Run(t, func(t *testing.T) cache.Driver {
		l2, err := rediscache.New(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		bus, err := rediscache.NewBus(c, &rediscache.BusOptions{Channel: randomName("viborm-test:bus:")})
		if err != nil {
			t.Fatal(err)
		}
		d, err := tiered.New(l2, bus, &tiered.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}, nil)
}

// windowRounds measures, over rounds, the time from a's invalidation
// returning to b having dropped the key from its L1 (zero when b had dropped
// it before a's call returned).
func windowRounds(t testing.TB, a, b *instance, prefix string, rounds int) []time.Duration {
	t.Helper()
	windows := make([]time.Duration, 0, rounds)
	for i := range rounds {
		key := prefix + strconv.Itoa(i)
		if err := a.Set(ctx, key, time.Minute, cache.NewEntry(i, time.Now(), time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := b.Get(ctx, key); err != nil || !ok {
			t.Fatalf("b.Get = %v, %v", ok, err)
		}
		if _, ok := b.GetLocal(key); !ok {
			t.Fatal("b's L1 does not serve the key it just read")
		}
		if err := a.Delete(ctx, []string{key}); err != nil {
			t.Fatal(err)
		}
		returned := time.Now()
		ev := b.await(t, "invalidate")
		for !slices.Contains(ev.Inv.Keys, key) {
			ev = b.await(t, "invalidate")
		}
		windows = append(windows, max(0, ev.at.Sub(returned)))
		if _, ok := b.GetLocal(key); ok {
			t.Fatal("b's L1 still serves the key after applying its invalidation")
		}
	}
	slices.Sort(windows)
	return windows
}

func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[(len(sorted)-1)*p/100]
}

// TestInvalidationWindowAcrossInstances: two instances, each with its own L1
// and bus subscription, on the shared Redis. After a's Delete returns, b's
// L1 stops serving the key once the message is applied; the window is
// logged, not asserted.
func TestInvalidationWindowAcrossInstances(t *testing.T) {
	c := sharedClient(t)
	ch := randomName("viborm-test:bus:")
	a, b := newInstance(t, c, ch, nil, nil), newInstance(t, c, ch, nil, nil)
	a.await(t, "subscribed")
	b.await(t, "subscribed")
	prefix := randomName("viborm-test:window:") + ":"
	t.Cleanup(func() { a.Clear(ctx, prefix) })
	w := windowRounds(t, a, b, prefix, 300)
	t.Logf("stale window after Delete returned, %d rounds on loopback: p50 %v, p99 %v, max %v",
		len(w), pct(w, 50), pct(w, 99), w[len(w)-1])
}

// clientOf returns a client of s with short timeouts, closed when t ends.
func clientOf(t testing.TB, s *testenv.PrivateRedis) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// faultSetup is a and b on a private server, with key k in b's L1.
func faultSetup(t *testing.T, busOpts *rediscache.BusOptions, gate chan struct{}) (s *testenv.PrivateRedis, raw *redis.Client, a, b *instance, key string) {
	s = testenv.StartPrivateRedis(t)
	raw = clientOf(t, s)
	a = newInstance(t, clientOf(t, s), "bus", busOpts, nil)
	b = newGatedInstance(t, clientOf(t, s), "bus", busOpts, nil, gate)
	a.await(t, "subscribed")
	b.await(t, "subscribed")
	key = "viborm:user:findMany:k"
	if err := a.Set(ctx, key, time.Minute, cache.NewEntry("old", time.Now(), time.Minute)); err != nil {
		t.Fatal(err)
	}
	if v := decoded(mustGet(t, b, key)); v != "old" {
		t.Fatalf("b.Get = %v, want old", v)
	}
	wantServes(t, b, key, "old")
	return
}

// wantServes checks what b's L1 serves for key: want (decoded), or nothing.
func wantServes(t *testing.T, b *instance, key string, want any) {
	t.Helper()
	e, ok := b.GetLocal(key)
	if want == nil {
		if ok {
			t.Fatalf("L1 serves %q = %v; want nothing", key, e.Value)
		}
		return
	}
	if !ok || decoded(e.Value) != want {
		t.Fatalf("L1 serves %q = %v, %v; want %v", key, e.Value, ok, want)
	}
}

// decoded returns a string value as stored, or read back as JSON.
func decoded(v any) any {
	if raw, ok := v.(json.RawMessage); ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return v
}

// writeMissed has a write that b cannot hear of: a changes L2 and publishes
// while b's subscription is down.
func writeMissed(t *testing.T, a *instance, key string) {
	t.Helper()
	a.Delete(ctx, []string{key}) // b is not subscribed: the message is lost for it
	if err := a.Set(ctx, key, time.Minute, cache.NewEntry("new", time.Now(), time.Minute)); err != nil {
		t.Fatal(err)
	}
}

// TestBusConnectionKilledFailsSafe: the subscriptions' connections are
// killed (CLIENT KILL TYPE pubsub). While b is unsubscribed (held there by
// the test) its L1 serves nothing, its reads go to L2 and are not copied
// into L1, and a write published meanwhile never reaches it; after it
// resubscribes, its L1 serves only what it reads afresh.
func TestBusConnectionKilledFailsSafe(t *testing.T) {
	gate := make(chan struct{})
	_, raw, a, b, key := faultSetup(t, nil, gate)
	n, err := raw.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
	if err != nil || n < 2 {
		t.Fatalf("CLIENT KILL TYPE pubsub = %d, %v; want both subscriptions killed", n, err)
	}
	b.await(t, "lost") // b's bus goroutine is now held: it cannot resubscribe
	wantServes(t, b, key, nil)
	a.await(t, "subscribed") // a is back, so its message is published to b's dead subscription only
	writeMissed(t, a, key)
	if v := decoded(mustGet(t, b, key)); v != "new" {
		t.Fatalf("b.Get while unsubscribed = %v, want new from L2", v)
	}
	wantServes(t, b, key, nil)
	gate <- struct{}{}
	b.await(t, "subscribed")
	wantServes(t, b, key, nil)
	if v := decoded(mustGet(t, b, key)); v != "new" {
		t.Fatalf("b.Get after resubscribe = %v, want new", v)
	}
	wantServes(t, b, key, "new")
	// And the bus works again.
	if err := a.Delete(ctx, []string{key}); err != nil {
		t.Fatal(err)
	}
	b.await(t, "invalidate")
	wantServes(t, b, key, nil)
}

// TestRedisRestartFailsSafe: the private Redis is killed. b's L1 stops
// serving; while the server is down b serves nothing from L1 and reads
// fail; after a restart (an empty server) b resubscribes and serves only
// what it reads afresh.
func TestRedisRestartFailsSafe(t *testing.T) {
	s, _, a, b, key := faultSetup(t, nil, nil)
	s.Kill()
	b.await(t, "lost")
	a.await(t, "lost")
	wantServes(t, b, key, nil)
	if _, _, err := b.Get(ctx, key); err == nil {
		t.Fatal("b.Get with Redis down = nil error, want L2's error")
	}
	wantServes(t, b, key, nil)
	s.Start()
	b.await(t, "subscribed")
	a.await(t, "subscribed")
	wantServes(t, b, key, nil)
	if _, ok, err := b.Get(ctx, key); err != nil || ok {
		t.Fatalf("b.Get on the restarted (empty) server = %v, %v; want a miss", ok, err)
	}
	if err := a.Set(ctx, key, time.Minute, cache.NewEntry("new", time.Now(), time.Minute)); err != nil {
		t.Fatal(err)
	}
	if v := decoded(mustGet(t, b, key)); v != "new" {
		t.Fatalf("b.Get = %v, want new", v)
	}
	wantServes(t, b, key, "new")
}

// TestSilentBusFailsSafe: the server is frozen (SIGSTOP), so the
// connection stays open but nothing arrives, as with a lagging one. b's
// subscription is declared lost by its health check and L1 stops serving;
// after SIGCONT it resubscribes and L1 starts empty.
func TestSilentBusFailsSafe(t *testing.T) {
	bo := &rediscache.BusOptions{HealthInterval: 50 * time.Millisecond, HealthTimeout: 300 * time.Millisecond}
	s, _, a, b, key := faultSetup(t, bo, nil)
	s.Signal(syscall.SIGSTOP)
	ev := b.await(t, "lost")
	if !errors.Is(ev.Err, rediscache.ErrBusSilent) {
		t.Fatalf("lost with %v, want ErrBusSilent", ev.Err)
	}
	a.await(t, "lost")
	wantServes(t, b, key, nil)
	s.Signal(syscall.SIGCONT)
	b.await(t, "subscribed")
	wantServes(t, b, key, nil)
	if v := decoded(mustGet(t, b, key)); v != "old" {
		t.Fatalf("b.Get = %v, want old (nothing changed it)", v)
	}
	wantServes(t, b, key, "old")
}
