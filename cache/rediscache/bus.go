package rediscache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/tiered"
)

// Defaults of [BusOptions].
const (
	DefaultBusChannel        = "viborm:invalidations"
	DefaultBusHealthInterval = time.Second
	DefaultBusHealthTimeout  = 3 * time.Second
	DefaultBusMaxBackoff     = time.Second
)

// ErrBusSilent is the error a [Bus] subscription reports to
// [tiered.Handler.Lost] when nothing, not even the reply to its PING, arrived
// within [BusOptions.HealthTimeout].
var ErrBusSilent = errors.New("rediscache: invalidation bus silent past its health timeout")

// BusOptions configures a [Bus]. A nil *BusOptions, and every zero field,
// means the default. [NewBus] copies the options.
type BusOptions struct {
	// Channel is the pub/sub channel. Every instance of one deployment (one
	// L2 keyspace) must use the same channel, and no other deployment may.
	// Default [DefaultBusChannel].
	Channel string

	// HealthInterval is how often the subscription's connection is sent a
	// PING. Default [DefaultBusHealthInterval].
	HealthInterval time.Duration

	// HealthTimeout is how long the subscription may stay silent (no
	// message, no reply to a PING) before it counts as lost: the bound on
	// how long a dead or lagging connection can go unnoticed. It also bounds
	// the wait for the server to confirm a subscription. It must be longer
	// than HealthInterval; default [DefaultBusHealthTimeout].
	HealthTimeout time.Duration

	// MaxBackoff caps the wait between attempts to resubscribe, which starts
	// at 10ms and doubles. Default [DefaultBusMaxBackoff].
	MaxBackoff time.Duration

	// Sharded uses sharded pub/sub (SSUBSCRIBE and SPUBLISH, Redis 7), which
	// keeps the channel's traffic on the shard that owns it in a Cluster
	// instead of broadcasting it over every node.
	Sharded bool
}

// Bus is a [tiered.Bus] over Redis pub/sub through a go-redis v9 client: a
// single node, Sentinel or a Cluster. The client stays the caller's: the
// bus never closes it. A Bus holds nothing of its own; each
// [Bus.Subscribe] holds one pub/sub connection for as long as it runs.
//
// Messages are [tiered.MarshalInvalidation]'s binary form. A subscription
// sends a PING every HealthInterval on its own connection; since Redis
// answers it after the messages queued before it, a reply that is late by
// more than HealthTimeout means the connection is dead or lagging, and the
// subscription reports it lost, closes the connection and resubscribes on
// a new one.
type Bus struct {
	client   redis.UniversalClient
	channel  string
	interval time.Duration
	timeout  time.Duration
	backoff  time.Duration
	sharded  bool
	honors   bool
}

var (
	_ tiered.Bus           = (*Bus)(nil)
	_ cache.ContextHonorer = (*Bus)(nil)
)

// NewBus returns a Bus publishing and subscribing through client. It
// reports invalid options as a [*cache.ConfigError].
func NewBus(client redis.UniversalClient, opts *BusOptions) (*Bus, error) {
	if client == nil {
		return nil, &cache.ConfigError{Field: "rediscache.NewBus client", Reason: "nil client"}
	}
	var o BusOptions
	if opts != nil {
		o = *opts
	}
	if o.Channel == "" {
		o.Channel = DefaultBusChannel
	}
	if o.HealthInterval < 0 || o.HealthTimeout < 0 || o.MaxBackoff < 0 {
		return nil, &cache.ConfigError{Field: "rediscache.BusOptions", Reason: "durations must not be negative"}
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = DefaultBusHealthInterval
	}
	if o.HealthTimeout == 0 {
		o.HealthTimeout = max(DefaultBusHealthTimeout, 3*o.HealthInterval)
	}
	if o.HealthTimeout <= o.HealthInterval {
		return nil, &cache.ConfigError{Field: "rediscache.BusOptions.HealthTimeout",
			Reason: fmt.Sprintf("%v must be longer than HealthInterval %v", o.HealthTimeout, o.HealthInterval)}
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultBusMaxBackoff
	}
	b := &Bus{client: client, channel: o.Channel, interval: o.HealthInterval, timeout: o.HealthTimeout,
		backoff: o.MaxBackoff, sharded: o.Sharded}
	switch c := client.(type) {
	case *redis.Client:
		b.honors = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		b.honors = c.Options().ContextTimeoutEnabled
	}
	return b, nil
}

// HonorsContext reports whether the client was made with
// ContextTimeoutEnabled, so that Publish returns once its context is done.
func (b *Bus) HonorsContext() bool { return b.honors }

// Publish sends inv on the channel (PUBLISH, or SPUBLISH when sharded).
func (b *Bus) Publish(ctx context.Context, inv tiered.Invalidation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg := tiered.MarshalInvalidation(nil, inv)
	if b.sharded {
		return b.client.SPublish(ctx, b.channel, msg).Err()
	}
	return b.client.Publish(ctx, b.channel, msg).Err()
}

// Subscribe subscribes to the channel and delivers to h until ctx is done,
// as [tiered.Bus] says; it resubscribes after any failure, waiting between
// attempts from 10ms up to [BusOptions.MaxBackoff].
func (b *Bus) Subscribe(ctx context.Context, h tiered.Handler) error {
	wait := 10 * time.Millisecond
	for {
		live := b.session(ctx, h)
		if err := ctx.Err(); err != nil {
			return err
		}
		if live {
			wait = 10 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, b.backoff)
	}
}

type received struct {
	msg any
	err error
}

// session holds one subscription on one connection until it fails or ctx
// is done; it reports whether the subscription was ever live. It calls
// h.Lost before returning if it called h.Subscribed.
func (b *Bus) session(ctx context.Context, h tiered.Handler) (live bool) {
	ps := b.client.Subscribe(ctx) // no channel yet: no connection yet
	recv := make(chan received)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	lost := func(err error) {
		if live {
			h.Lost(err)
		}
	}
	defer func() {
		close(stop)
		ps.Close() // unblocks Receive
		wg.Wait()
	}()
	var err error
	if b.sharded {
		err = ps.SSubscribe(ctx, b.channel)
	} else {
		err = ps.Subscribe(ctx, b.channel)
	}
	if err != nil {
		return false
	}
	wg.Go(func() {
		for {
			m, err := ps.Receive(ctx)
			select {
			case recv <- received{m, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	})
	wg.Go(func() {
		t := time.NewTicker(b.interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// A failed PING shows as silence or as a failed Receive.
				_ = ps.Ping(ctx)
			}
		}
	})
	silence := time.NewTimer(b.timeout)
	defer silence.Stop()
	for {
		select {
		case <-ctx.Done():
			lost(ctx.Err())
			return live
		case <-silence.C:
			lost(ErrBusSilent)
			return live
		case r := <-recv:
			if r.err != nil {
				lost(r.err)
				return live
			}
			silence.Reset(b.timeout)
			switch m := r.msg.(type) {
			case *redis.Subscription:
				if m.Channel != b.channel {
					continue
				}
				switch m.Kind {
				case "subscribe", "ssubscribe":
					if !live {
						live = true
						h.Subscribed()
					}
				default: // unsubscribed by the server (a slot moved, say)
					lost(fmt.Errorf("rediscache: bus channel %s", m.Kind))
					return live
				}
			case *redis.Message:
				if !live || m.Channel != b.channel {
					continue
				}
				inv, err := tiered.UnmarshalInvalidation([]byte(m.Payload))
				if err != nil {
					// What it invalidated is unknown: fail safe.
					lost(err)
					return live
				}
				h.Invalidate(inv)
			}
		}
	}
}
