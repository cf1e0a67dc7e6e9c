package viborm

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
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
	ex executor
}

func (cc *Cached) readExecutor() *executor { return &cc.ex }

// Err returns the configuration error of the handle, if any: an invalid
// option ([ErrInvalidCacheOption]) or a client without a cache
// ([ErrCacheNotConfigured]). Every read through the handle returns it too.
func (cc *Cached) Err() error { return cc.ex.err }

// WithCache returns a handle whose reads are cached with o. Errors in o, or a
// client without a cache, are reported by [Cached.Err] and by every read.
func (c *Client) WithCache(o CacheOptions) *Cached {
	cc := &Cached{ex: executor{c: c, q: c.db}}
	if c.cache == nil {
		cc.ex.err = &Error{Code: CodeCacheNotConfigured, Message: "WithCache needs Config.Cache"}
		return cc
	}
	p := &cache.Policy{TTL: o.TTL, SWR: o.SWR || o.StaleWindow > 0, StaleWindow: o.StaleWindow, Bypass: o.Bypass, Key: o.Key}
	switch {
	case o.TTL < 0:
		cc.ex.err = &Error{Code: CodeInvalidCacheOption, Field: "TTL", Message: "must not be negative"}
	case o.TTL > 0 && o.TTL < time.Millisecond:
		cc.ex.err = &Error{Code: CodeInvalidCacheOption, Field: "TTL", Message: "must be at least 1ms"}
	case o.TTL != 0 && o.TTLString != "":
		cc.ex.err = &Error{Code: CodeInvalidCacheOption, Field: "TTLString", Message: "set TTL or TTLString, not both"}
	case o.StaleWindow < 0:
		cc.ex.err = &Error{Code: CodeInvalidCacheOption, Field: "StaleWindow", Message: "must not be negative"}
	case o.Key != "" && strings.ContainsAny(o.Key, "*"):
		cc.ex.err = &Error{Code: CodeInvalidCacheKey, Field: "Key", Message: "a custom key cannot contain '*'"}
	case o.TTLString != "":
		d, err := cache.ParseTTL(o.TTLString)
		if err != nil {
			cc.ex.err = &Error{Code: CodeInvalidCacheOption, Field: "TTLString", Message: "invalid TTL", Err: err}
		}
		p.TTL = d
	}
	cc.ex.pol = p
	cc.ex.ro = o.ReadOnly
	return cc
}

// fullKey prefixes a key or pattern with the client's prefix unless it
// already starts with "viborm:".
func (c *Client) fullKey(k string) string {
	if strings.HasPrefix(k, "viborm:") {
		return k
	}
	return c.prefix + ":" + k
}

// Invalidate removes cached reads: exact keys ("user:findMany:<hash>") or
// "prefix*" patterns ("user:*"). Keys without the "viborm:" prefix get the
// client's prefix and version.
func (c *Client) Invalidate(ctx context.Context, patterns ...string) error {
	if c.cache == nil {
		return &Error{Code: CodeCacheNotConfigured, Message: "Invalidate needs Config.Cache"}
	}
	if c.closed.Load() {
		return closedError("invalidate")
	}
	full := make([]string, len(patterns))
	for i, p := range patterns {
		if p == "" || p == "*" {
			return &Error{Code: CodeInvalidCacheKey, Message: "empty invalidation pattern"}
		}
		full[i] = c.fullKey(p)
	}
	if err := c.cache.Invalidate(ctx, full...); err != nil {
		return &Error{Code: CodeCacheInvalidation, Message: "invalidation failed", Err: err}
	}
	return nil
}

// writePatterns returns what a write with inv invalidates; deps are the
// dependency tokens of the models it changed (see schema.Model.WriteDeps),
// whose cached reads auto-invalidation clears.
func (c *Client) writePatterns(deps []string, inv *Invalidate) []string {
	if c.cache == nil {
		return nil
	}
	auto := c.cfg.AutoInvalidate
	var keys []string
	if inv != nil {
		if inv.Auto != nil {
			auto = *inv.Auto
		}
		for _, k := range inv.Keys {
			if k != "" && k != "*" {
				keys = append(keys, c.fullKey(k))
			}
		}
	}
	if auto {
		for _, d := range deps {
			keys = append(keys, c.prefix+":"+d+":*")
		}
	}
	return keys
}

// invalidateFailed reports an invalidation after a committed write that
// failed for good: after its retries, or abandoned because the client
// closed.
func (c *Client) invalidateFailed(err error, closed bool) {
	e := &Error{Code: CodeCacheInvalidation, Message: "invalidation after a committed write failed", Err: err}
	if closed {
		e.Message = "invalidation after a committed write abandoned: the client is closed"
		e.Err = errors.Join(ErrClosed, err)
	}
	c.log.Error("viborm: cache invalidation gave up", "err", e.Err)
	if c.cfg.OnInvalidateError != nil {
		c.cfg.OnInvalidateError(e)
	}
}

// invalidateAfter schedules patterns after a successful write: now, or at
// COMMIT inside a transaction. The models the write changed are those its
// body recorded under ctx (withWriteDeps), or md alone.
func (ex *executor) invalidateAfter(ctx context.Context, md *schema.Model, inv *Invalidate) {
	ps := ex.c.writePatterns(depsOf(ctx, md), inv)
	if len(ps) == 0 {
		return
	}
	if ex.tx != nil {
		ex.tx.pending = append(ex.tx.pending, ps...)
		return
	}
	ex.c.inv.AfterWrite(ctx, ps)
}

// readDeps returns the dependencies of the cached read q of md, as
// cache.Policy.Deps names them: every model (and junction table) it reads
// through includes, relation counts and relation filters, except md itself,
// whose reads the key's prefix already covers. An invalidation of any of
// them (auto after a write, or an invalidation of "<model>:*") clears the
// read.
func readDeps(md *schema.Model, q *query.Query) []string {
	deps := q.Deps()
	if i := slices.Index(deps, md.Name); i >= 0 {
		deps = slices.Delete(slices.Clone(deps), i, i+1)
	}
	if len(deps) == 0 {
		return nil
	}
	return deps
}
