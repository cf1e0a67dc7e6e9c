package engine

import (
	"context"
	"errors"
	"slices"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/internal/verr"
)

// Norm normalises a read's arguments for md, whose relations are rels.
type Norm func(md *schema.Model, rels query.Rels) (*query.Query, error)

// Read is the path of every model read of op ("findMany", "count"…): start,
// normalise, then answer from the cache through a cached connection (see
// exec.ReadThrough), or from the database. Its error has been through
// Config.Public.
func Read[R any](ctx context.Context, c *Conn, md *schema.Model, op string, norm Norm, spec *exec.Spec[R]) (res R, err error) {
	if c.e.cfg.Hook != nil {
		var run *opRun
		ctx, run = c.beginOp(ctx, md, op)
		defer func() { run.end(rowCount(res), err) }()
	}
	if res, err = read(ctx, c, md, op, norm, spec); err != nil {
		err = c.e.cfg.Public(err)
	}
	return res, err
}

// read is Read without the hooks and the conversion of its error.
func read[R any](ctx context.Context, c *Conn, md *schema.Model, op string, norm Norm, spec *exec.Spec[R]) (R, error) {
	var zero R
	if err := c.Start(md); err != nil {
		return zero, err
	}
	q, err := norm(md, c.e.rels)
	if err != nil {
		return zero, verr.WithOp(err, md.Name, op)
	}
	orErr := op == "findFirstOrThrow" || op == "findUniqueOrThrow"
	if c.pol == nil {
		v, err := exec.Load(ctx, c, c.q, md, q, orErr, spec)
		if err != nil {
			return zero, verr.WithOp(c.e.DBError(err, md, op), md.Name, op)
		}
		return v, nil
	}
	key, err := c.CacheKey(md, op, q)
	if err != nil {
		return zero, err
	}
	pol := *c.pol
	pol.Key = ""
	pol.Deps = readDeps(md, q)
	v, own, err := exec.ReadThrough(ctx, c, c.e.cfg.Cache, key, pol, md, q, orErr, spec)
	if err != nil {
		return zero, c.e.cacheError(err, md, op)
	}
	switch {
	case own, c.ro && spec.Kind == exec.Rows && !q.HasRel():
		// The caller's own value, or shared under CacheOptions.ReadOnly.
	default:
		if spec.CopyRel != nil && q.HasRel() {
			v = spec.CopyRel(md, q, v)
		} else {
			v = spec.Copy(md, v)
		}
	}
	return v, nil
}

// Compile returns the statement a read of op runs for q.
func Compile(d dialect.Dialect, op string, md *schema.Model, q *query.Query) sqlgen.Stmt {
	switch op {
	case "count":
		return sqlgen.Count(d, md, q)
	case "exist":
		return sqlgen.Exist(d, md, q)
	case "aggregate":
		return sqlgen.Aggregate(d, md, q)
	case "groupBy":
		return sqlgen.GroupBy(d, md, q)
	}
	return exec.SelectRows(d, md, q)
}

// CacheKey returns the full key of the cached read q of op on md: the
// handle's own key when it sets one.
func (c *Conn) CacheKey(md *schema.Model, op string, q *query.Query) (string, error) {
	if c.pol != nil && c.pol.Key != "" {
		return c.e.FullKey(c.pol.Key), nil
	}
	var buf [128]byte
	k, err := cache.StringKey(md.Name, op, q.Encode(buf[:0]), c.e.keyOpt)
	if err != nil {
		return "", &verr.Error{Code: verr.CodeInvalidCacheKey, Model: md.Name, Op: op, Message: "cannot derive a cache key", Err: err}
	}
	return k, nil
}

// cacheError maps the error of a read through the cache.
func (e *Engine) cacheError(err error, md *schema.Model, op string) error {
	var ve *verr.Error
	switch {
	case errors.As(err, &ve) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return verr.WithOp(err, md.Name, op)
	case errors.Is(err, cache.ErrConfig) || errors.Is(err, cache.ErrInvalidTTL):
		return &verr.Error{Code: verr.CodeInvalidCacheOption, Model: md.Name, Op: op, Message: "invalid cache options", Err: err}
	case errors.Is(err, cache.ErrInvalidKey):
		return &verr.Error{Code: verr.CodeInvalidCacheKey, Model: md.Name, Op: op, Message: "invalid cache key", Err: err}
	}
	return verr.WithOp(e.DBError(err, md, op), md.Name, op)
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

// Inval is the cache part of a write (viborm.Invalidate).
type Inval struct {
	Keys []string
	Auto *bool // nil: Config.AutoInvalidate
}

// Body is a write's work on c: it normalises its arguments and runs its
// statements, and sets *deps to the dependency tokens of the models it
// changes (see schema.Model.WriteDeps) when they are not md's name alone.
type Body[R any] func(c *Conn, md *schema.Model, deps *[]string) (R, error)

// Write is the path of every model write of op: start, run body (which
// normalises and executes, in a transaction when it needs one), map the
// error, and once the write has succeeded invalidate what inv asks for (at
// COMMIT inside a transaction). Its error has been through Config.Public.
func Write[R any](ctx context.Context, c *Conn, md *schema.Model, op string, inv Inval, body Body[R]) (res R, err error) {
	if c.e.cfg.Hook != nil {
		var r *opRun
		ctx, r = c.beginOp(ctx, md, op)
		c = c.withRun(r) // body's statements keep the caller's context
		defer func() { r.end(writeRows(res), err) }()
	}
	if err = c.Start(md); err != nil {
		return res, c.e.cfg.Public(err)
	}
	var deps []string
	if res, err = body(c, md, &deps); err != nil {
		var zero R
		return zero, c.e.cfg.Public(verr.WithOp(c.e.DBError(err, md, op), md.Name, op))
	}
	if deps == nil {
		deps = []string{md.Name}
	}
	c.invalidateAfter(ctx, deps, inv)
	return res, nil
}

// invalidateAfter schedules what a successful write invalidates: now, or
// at COMMIT inside a transaction. deps are the dependency tokens of the
// models it changed, whose cached reads auto-invalidation clears.
func (c *Conn) invalidateAfter(ctx context.Context, deps []string, inv Inval) {
	e := c.e
	if e.cfg.Cache == nil {
		return
	}
	auto := e.cfg.AutoInvalidate
	if inv.Auto != nil {
		auto = *inv.Auto
	}
	var keys []string
	for _, k := range inv.Keys {
		if k != "" && k != "*" {
			keys = append(keys, e.FullKey(k))
		}
	}
	if auto {
		for _, d := range deps {
			keys = append(keys, e.prefix+":"+d+":*")
		}
	}
	switch {
	case len(keys) == 0:
	case c.tx != nil:
		c.tx.pending = append(c.tx.pending, keys...)
	default:
		e.inv.AfterWrite(ctx, keys)
	}
}
