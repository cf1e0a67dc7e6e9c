package exec

import (
	"context"
	"errors"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
)

// errCachedShape rejects a value kept in memory by the cache that is not
// this read's result: one stored under the same custom key by another
// operation, model or selection.
var errCachedShape = errors.New("viborm: the cached value is not the result of this read")

// Load runs the read qu of md on q and scans its result.
func Load[R any](ctx context.Context, c Conn, q Querier, md *schema.Model, qu *query.Query, orErr bool, spec *Spec[R]) (R, error) {
	if spec.LoadRel != nil && qu.HasRel() {
		return spec.LoadRel(ctx, c, q, md, qu, orErr)
	}
	rows, err := c.Query(ctx, q, spec.Compile(c.Dialect(), md, qu))
	if err != nil {
		var zero R
		return zero, err
	}
	defer rows.Close()
	return spec.Scan(md, qu, orErr, rows)
}

// ReadThrough returns the result of the read q of md from kv under key
// with pol, loading it on c's querier on a miss. own reports that the
// result is the caller's; otherwise it is the value the cache keeps in
// memory, which the caller must copy (spec.Copy) before handing it out.
//
// A value found in the cache answers only if it is this read's result: a
// payload kept in memory must be of the same kind, model and shape
// (selection, aggregates, groups); bytes from a serializing driver must
// decode strictly into the result (spec.Decode). Anything else is a miss:
// the database answers, its result replaces the entry, and the cache logs
// the failure without the key.
func ReadThrough[R any](ctx context.Context, c Conn, kv *cache.Cache, key string, pol cache.Policy, md *schema.Model, q *query.Query, orErr bool, spec *Spec[R]) (v R, own bool, err error) {
	p, err := cache.LoadFrom(ctx, kv, key, pol, source[R]{c, kv, md, q, orErr, spec})
	if err != nil {
		return v, false, err
	}
	return p.V.(R), p.Own, nil
}

// source is the cache.Source of ReadThrough. It is a value, so that a hit
// does not allocate it (see cache.LoadFrom).
type source[R any] struct {
	c     Conn
	kv    *cache.Cache
	md    *schema.Model
	q     *query.Query
	orErr bool
	spec  *Spec[R]
}

// Load answers a miss from the database.
func (s source[R]) Load(ctx context.Context) (Payload, error) {
	v, err := Load(ctx, s.c, s.c.Querier(), s.md, s.q, s.orErr, s.spec)
	if err != nil {
		return Payload{}, err
	}
	return Payload{Kind: s.spec.Kind, MD: s.md, Q: s.q, V: v}, nil
}

// Check accepts a cached payload only if it is this read's result.
func (s source[R]) Check(p Payload) (Payload, error) {
	if p.Raw == nil {
		if p.Kind != s.spec.Kind || p.MD != s.md || !query.SameShape(p.Q, s.q) {
			return Payload{}, errCachedShape
		}
		return p, nil
	}
	v, err := s.spec.Decode(s.md, s.q, p.Raw)
	if err != nil {
		return Payload{}, err
	}
	// A cache that shares checked values keeps this one in memory for
	// later reads, as it keeps a loaded one: then it is not the caller's.
	return Payload{Kind: s.spec.Kind, MD: s.md, Q: s.q, V: v, Own: !s.kv.SharesChecked()}, nil
}
