package tiered

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Invalidation is one message on a [Bus]: the keys and prefixes that an
// instance invalidated. Values are never sent.
type Invalidation struct {
	// Source identifies the [Driver] that published the message; a driver
	// ignores its own messages (it has applied them already).
	Source uint64
	// Keys are removed exactly.
	Keys []string
	// Prefixes remove every key that starts with them, byte for byte.
	Prefixes []string
}

// Bus carries invalidations between the instances that share one L2 tier.
// [github.com/viborm/viborm-go/cache/rediscache.Bus] is one over Redis
// pub/sub.
//
// The contract:
//
//   - Both methods must be safe for concurrent use.
//   - Publish sends inv to every subscription that is live (see below) when
//     Publish is called, including the publisher's own, and returns once the
//     bus has accepted it; it must return promptly, with ctx's error, once
//     ctx is done. A nil error does not promise delivery to a subscription
//     that is lost meanwhile: that is what Lost is for. Publish must not
//     retain inv or its slices after it returns.
//   - Subscribe subscribes and delivers to h until ctx is done, then returns
//     ctx's error; it may return earlier with another error only when it can
//     never succeed (a misconfiguration). It reconnects by itself after
//     failures. It calls h from one goroutine at a time, never concurrently,
//     and never after it has returned.
//   - h.Subscribed is called when the subscription is live: every message
//     published after Subscribed was called is delivered to h.Invalidate,
//     in the order of publication, unless h.Lost is called first.
//   - h.Lost is called, after a Subscribed, as soon as the bus can no longer
//     promise that: the connection failed or was closed, a message could not
//     be decoded, or the subscription stayed silent longer than the bus's
//     health timeout (a lagging connection counts as lost). After Lost,
//     Subscribed is called again once the subscription is live again.
//     Before the first Subscribed the subscription counts as lost. Subscribe
//     calls Lost before it returns if the subscription was live.
//   - h.Invalidate receives a message; the slices belong to h.
//
// The handler's methods are fast and never block on I/O.
type Bus interface {
	Publish(ctx context.Context, inv Invalidation) error
	Subscribe(ctx context.Context, h Handler) error
}

// Handler receives what a [Bus] subscription delivers; see [Bus] for when
// each method is called. A [Driver] passes its own.
type Handler interface {
	// Subscribed reports that the subscription is live.
	Subscribed()
	// Lost reports that messages may have been missed since the last
	// Subscribed, and why.
	Lost(err error)
	// Invalidate delivers one message.
	Invalidate(inv Invalidation)
}

// ErrMalformed is matched by the error of [UnmarshalInvalidation] for bytes
// that are not a message of [MarshalInvalidation].
var ErrMalformed = errors.New("tiered: malformed invalidation message")

// wireVersion is the first byte of every encoded message.
const wireVersion = 1

// MarshalInvalidation appends the binary form of inv to dst and returns the
// extended slice: a version byte, Source as 8 bytes big-endian, then the
// count of keys and each key, then the count of prefixes and each prefix,
// every count and length an unsigned varint. Keys are bytes, not text: the
// form carries any key the [cache.Driver] contract allows. Buses may use it
// as their wire format.
func MarshalInvalidation(dst []byte, inv Invalidation) []byte {
	dst = append(dst, wireVersion)
	dst = binary.BigEndian.AppendUint64(dst, inv.Source)
	for _, list := range [2][]string{inv.Keys, inv.Prefixes} {
		dst = binary.AppendUvarint(dst, uint64(len(list)))
		for _, s := range list {
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		}
	}
	return dst
}

// UnmarshalInvalidation decodes a message of [MarshalInvalidation]. Bytes
// that are not one return an error matching [ErrMalformed]. The result does
// not alias b.
func UnmarshalInvalidation(b []byte) (Invalidation, error) {
	var inv Invalidation
	if len(b) < 9 {
		return inv, fmt.Errorf("%w: %d bytes, want at least 9", ErrMalformed, len(b))
	}
	if b[0] != wireVersion {
		return inv, fmt.Errorf("%w: version %d, want %d", ErrMalformed, b[0], wireVersion)
	}
	inv.Source = binary.BigEndian.Uint64(b[1:9])
	rest := b[9:]
	for i, what := range [2]string{"keys", "prefixes"} {
		n, w := binary.Uvarint(rest)
		if w <= 0 {
			return Invalidation{}, fmt.Errorf("%w: bad count of %s", ErrMalformed, what)
		}
		rest = rest[w:]
		// Every string takes at least one byte (its length): a count
		// larger than what is left cannot be true, and must not size an
		// allocation.
		if n > uint64(len(rest)) {
			return Invalidation{}, fmt.Errorf("%w: %d %s in %d bytes", ErrMalformed, n, what, len(rest))
		}
		var list []string
		if n > 0 {
			list = make([]string, 0, n)
		}
		for range n {
			l, w := binary.Uvarint(rest)
			if w <= 0 || l > uint64(len(rest)-w) {
				return Invalidation{}, fmt.Errorf("%w: bad length of one of the %s", ErrMalformed, what)
			}
			rest = rest[w:]
			list = append(list, string(rest[:l]))
			rest = rest[l:]
		}
		if i == 0 {
			inv.Keys = list
		} else {
			inv.Prefixes = list
		}
	}
	if len(rest) != 0 {
		return Invalidation{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
	}
	return inv, nil
}
