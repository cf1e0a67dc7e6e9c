package viborm

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/engine"
)

// CacheOptions are the per-read cache settings, VibORM's $withCache options.
// The zero value caches for the cache's default TTL (5 minutes).
type CacheOptions struct {
	// TTL is how long a result is fresh. Zero means the default.
	TTL time.Duration
	// TTLString is the TTL in VibORM's form ("5 minutes", "1h"); it is
	// parsed with cache.ParseTTL. Set TTL or TTLString, not both.
	TTLString string
	// SWR enables stale-while-revalidate with a stale window equal to TTL.
	SWR bool
	// StaleWindow, when positive, enables SWR with this window.
	StaleWindow time.Duration
	// Key replaces the generated key (it is prefixed like any key).
	Key string
	// Bypass skips the cache read; the result is still stored.
	Bypass bool
	// ReadOnly makes a hit on an in-memory cache driver return the rows the
	// cache keeps rather than a copy: no allocation and no copy, the same
	// cost for 10 rows as for 10,000. In exchange the caller promises never
	// to modify what such a read returns: no field of a row, no byte of a
	// []byte or json.RawMessage field, no value behind a pointer field, no
	// entry of a Row map. Every hit on the entry shares that memory until it
	// expires or is invalidated, so a write would change later hits' results
	// and race with concurrent readers. Appending to the returned slice is
	// safe: its capacity is its length, so append copies. Rows read from the
	// database or decoded from a serializing driver are the caller's own
	// either way. It applies to FindMany, FindFirst and FindUnique and their
	// OrErr forms without Include; reads with includes, counts, aggregates
	// and groups are copied as before.
	ReadOnly bool
}

// Cached is a read-only handle whose reads go through the cache. It
// implements [Reader] only: model writes do not accept it.
type Cached struct {
	c *engine.Conn
}

func (cc *Cached) conn() *engine.Conn { return cc.c }

// Err returns the configuration error of the handle, if any: an invalid
// option ([ErrInvalidCacheOption]) or a client without a cache
// ([ErrCacheNotConfigured]). Every read through the handle returns it too.
func (cc *Cached) Err() error { return cc.c.Err() }

// WithCache returns a handle whose reads are cached with o. Errors in o, or a
// client without a cache, are reported by [Cached.Err] and by every read.
func (c *Client) WithCache(o CacheOptions) *Cached {
	if c.cfg.Cache == nil {
		return &Cached{c.e.Cached(nil, false, &Error{Code: CodeCacheNotConfigured, Message: "WithCache needs Config.Cache"})}
	}
	p := &cache.Policy{TTL: o.TTL, SWR: o.SWR || o.StaleWindow > 0, StaleWindow: o.StaleWindow, Bypass: o.Bypass, Key: o.Key}
	var err error
	switch {
	case o.TTL < 0:
		err = &Error{Code: CodeInvalidCacheOption, Field: "TTL", Message: "must not be negative"}
	case o.TTL > 0 && o.TTL < time.Millisecond:
		err = &Error{Code: CodeInvalidCacheOption, Field: "TTL", Message: "must be at least 1ms"}
	case o.TTL != 0 && o.TTLString != "":
		err = &Error{Code: CodeInvalidCacheOption, Field: "TTLString", Message: "set TTL or TTLString, not both"}
	case o.StaleWindow < 0:
		err = &Error{Code: CodeInvalidCacheOption, Field: "StaleWindow", Message: "must not be negative"}
	case o.Key != "" && strings.ContainsAny(o.Key, "*"):
		err = &Error{Code: CodeInvalidCacheKey, Field: "Key", Message: "a custom key cannot contain '*'"}
	case o.TTLString != "":
		d, perr := cache.ParseTTL(o.TTLString)
		if perr != nil {
			err = &Error{Code: CodeInvalidCacheOption, Field: "TTLString", Message: "invalid TTL", Err: perr}
		}
		p.TTL = d
	}
	return &Cached{c.e.Cached(p, o.ReadOnly, err)}
}

// Invalidate removes cached reads: exact keys ("user:findMany:<hash>") or
// "prefix*" patterns ("user:*"). Keys without the "viborm:" prefix get the
// client's prefix and version.
func (c *Client) Invalidate(ctx context.Context, patterns ...string) error {
	return public(c.e.Invalidate(ctx, patterns))
}

// inval returns the engine's form of i.
func (i *Invalidate) inval() engine.Inval {
	if i == nil {
		return engine.Inval{}
	}
	return engine.Inval{Keys: i.Keys, Auto: i.Auto}
}

// invalidateFailed reports an invalidation after a committed write that
// failed: after its retry window (it is then owed), or abandoned because
// the client closed.
func (c *Client) invalidateFailed(err error, closed bool) {
	e := &Error{Code: CodeCacheInvalidation, Message: "invalidation after a committed write failed; owed: retried every 5s until the cache takes it", Err: err}
	msg := "viborm: cache invalidation failed after its retries; owed until the cache is back"
	if closed {
		e.Message = "invalidation after a committed write abandoned: the client is closed"
		e.Err = errors.Join(ErrClosed, err)
		msg = "viborm: cache invalidation abandoned: the client is closed"
	}
	c.cfg.Logger.Error(msg, "err", e.Err)
	if c.cfg.OnInvalidateError != nil {
		c.cfg.OnInvalidateError(e)
	}
}
