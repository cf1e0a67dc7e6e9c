package rediscache_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/tiered"
	"github.com/viborm/viborm-go/internal/testenv"
)

// busGuard bounds each wait for a message from Redis; nothing is asserted
// on time.
const busGuard = 30 * time.Second

type busEvent struct {
	kind string
	inv  tiered.Invalidation
	err  error
}

// recorder is a tiered.Handler that forwards what it receives.
type recorder chan busEvent

func (r recorder) Subscribed()                        { r <- busEvent{kind: "subscribed"} }
func (r recorder) Lost(err error)                     { r <- busEvent{kind: "lost", err: err} }
func (r recorder) Invalidate(inv tiered.Invalidation) { r <- busEvent{kind: "invalidate", inv: inv} }

func (r recorder) next(t *testing.T, kind string) busEvent {
	t.Helper()
	select {
	case ev := <-r:
		if ev.kind != kind {
			t.Fatalf("bus event %q (%v), want %q", ev.kind, ev.err, kind)
		}
		return ev
	case <-time.After(busGuard):
		t.Fatalf("no %q bus event within %v", kind, busGuard)
	}
	return busEvent{}
}

// subscribe runs b.Subscribe(h) until the test ends, and checks it returns
// the context's error.
func subscribe(t *testing.T, b *rediscache.Bus, h recorder) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Subscribe(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		// Drain until Subscribe returns, so it never blocks on h.
		for {
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Subscribe returned %v, want context.Canceled", err)
				}
				return
			case <-h:
			}
		}
	})
}

func TestBusDeliversInOrder(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), DB: testDB})
	defer c.Close()
	b, err := rediscache.NewBus(c, &rediscache.BusOptions{Channel: fmt.Sprintf("viborm-test:bus:%d", time.Now().UnixNano())})
	if err != nil {
		t.Fatal(err)
	}
	h := make(recorder, 16)
	subscribe(t, b, h)
	h.next(t, "subscribed")
	sent := []tiered.Invalidation{
		{Source: 1, Keys: []string{"viborm:user:findMany:a", "\xff\x00*?[\\"}},
		{Source: 2, Prefixes: []string{"viborm:user:"}},
		{Source: 3, Keys: []string{"k"}, Prefixes: []string{"p"}},
	}
	for _, inv := range sent {
		if err := b.Publish(context.Background(), inv); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range sent {
		got := h.next(t, "invalidate").inv
		if got.Source != want.Source || !reflect.DeepEqual(got.Keys, want.Keys) || !reflect.DeepEqual(got.Prefixes, want.Prefixes) {
			t.Fatalf("received %+v, want %+v", got, want)
		}
	}
}

// TestBusReportsKilledConnection: a killed subscription connection is
// reported lost at once and resubscribed; a garbage message on the channel
// is reported lost too (what it invalidated is unknown).
func TestBusReportsKilledConnection(t *testing.T) {
	s := testenv.StartPrivateRedis(t)
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	b, err := rediscache.NewBus(c, &rediscache.BusOptions{Channel: "bus"})
	if err != nil {
		t.Fatal(err)
	}
	h := make(recorder, 16)
	subscribe(t, b, h)
	h.next(t, "subscribed")
	if n, err := c.ClientKillByFilter(context.Background(), "TYPE", "pubsub").Result(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL = %d, %v", n, err)
	}
	h.next(t, "lost")
	h.next(t, "subscribed")
	if err := c.Publish(context.Background(), "bus", "not a message").Err(); err != nil {
		t.Fatal(err)
	}
	if ev := h.next(t, "lost"); !errors.Is(ev.err, tiered.ErrMalformed) {
		t.Fatalf("lost with %v, want ErrMalformed", ev.err)
	}
	h.next(t, "subscribed")
	if err := b.Publish(context.Background(), tiered.Invalidation{Keys: []string{"k"}}); err != nil {
		t.Fatal(err)
	}
	h.next(t, "invalidate")
}

func TestNewBusRejectsBadOptions(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	for name, o := range map[string]*rediscache.BusOptions{
		"negative interval":          {HealthInterval: -1},
		"timeout not above interval": {HealthInterval: time.Second, HealthTimeout: time.Second},
	} {
		if _, err := rediscache.NewBus(c, o); !errors.Is(err, cache.ErrConfig) {
			t.Errorf("%s: NewBus = %v, want a ConfigError", name, err)
		}
	}
	if _, err := rediscache.NewBus(nil, nil); !errors.Is(err, cache.ErrConfig) {
		t.Errorf("NewBus(nil) = %v, want a ConfigError", err)
	}
}

// TestBusOnCluster: two subscriptions through cluster clients receive a
// message published through a third, with plain and sharded pub/sub.
func TestBusOnCluster(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(fmt.Sprintf("sharded=%v", sharded), func(t *testing.T) {
			addrs := clusterAddrs(t)
			var hs []recorder
			var pub *rediscache.Bus
			for i := range 3 {
				c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
				t.Cleanup(func() { c.Close() })
				b, err := rediscache.NewBus(c, &rediscache.BusOptions{Channel: fmt.Sprintf("bus:%v", sharded), Sharded: sharded})
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					pub = b
					continue
				}
				h := make(recorder, 16)
				subscribe(t, b, h)
				h.next(t, "subscribed")
				hs = append(hs, h)
			}
			want := tiered.Invalidation{Source: 9, Prefixes: []string{"viborm:user:"}}
			if err := pub.Publish(context.Background(), want); err != nil {
				t.Fatal(err)
			}
			for _, h := range hs {
				if got := h.next(t, "invalidate").inv; !reflect.DeepEqual(got.Prefixes, want.Prefixes) {
					t.Fatalf("received %+v, want %+v", got, want)
				}
			}
		})
	}
}
