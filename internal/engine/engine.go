// Package engine runs the ORM's operations. An [Engine] is one client's
// state (the database and its dialect, the models and their resolved
// relations, the cache), and [Read] and [Write] are the one path every model
// read and every model write takes through the pipeline: start, normalise
// (internal/query), answer from the cache or the database (internal/exec,
// which compiles with internal/sqlgen and scans with internal/rowcodec), map
// the error, report to the hooks, and invalidate after a write.
//
// The public package viborm holds the types users see; it copies their
// arguments into calls here and converts the errors once, with
// [Config.Public]. Errors made here are *verr.Error. See ARCHITECTURE.md.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/inval"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/internal/verr"
)

// Config is what an [Engine] runs with; the public package fills it from its
// own Config. Nil funcs and zero durations mean none and the defaults.
type Config struct {
	DB      *sql.DB
	Dialect dialect.Dialect
	Models  []*schema.Model
	Cache   *cache.Cache // nil: no cached reads, no invalidation
	// AutoInvalidate is the default of Inval.Auto.
	AutoInvalidate bool
	Log            *slog.Logger
	Hook           Hook
	// Classify maps a database error to a code ("" when unknown).
	Classify func(error) verr.Code
	// InvalidateTimeout and InvalidateRetry configure internal/inval;
	// InvalidateFailed reports an invalidation after a committed write
	// given up.
	InvalidateTimeout, InvalidateRetry time.Duration
	InvalidateFailed                   func(err error, closed bool)
	// Public converts an error for the caller. Read and Write return their
	// errors through it, so a hook's AfterOperation sees the error the
	// caller gets.
	Public func(error) error
	// Cond, Update and Nested read the public package's condition, update
	// operator and nested write values inside a where or data.
	Cond   query.CondOf
	Update query.UpdateOf
	Nested query.NestedOf
}

// Engine is one client's state; it is safe for concurrent use.
type Engine struct {
	cfg    Config
	d      dialect.Dialect
	models map[string]*schema.Model
	rels   query.Rels // resolved per engine: models are shared
	prefix string
	keyOpt *cache.KeyOptions
	pool   Conn
	inv    *inval.Invalidator // nil without a cache

	closeMu sync.Mutex
	closed  atomic.Bool // set under closeMu
}

// New checks the models together (unique names and tables, relations) and
// returns an engine. It does not touch the database.
func New(cfg Config) (*Engine, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Public == nil {
		cfg.Public = func(err error) error { return err }
	}
	if cfg.Cond == nil {
		cfg.Cond = func(any) (*query.Cond, bool) { return nil, false }
	}
	if cfg.Update == nil {
		cfg.Update = func(any) (byte, any, bool) { return 0, nil, false }
	}
	if cfg.Nested == nil {
		cfg.Nested = func(any) (query.NestedArgs, bool) { return query.NestedArgs{}, false }
	}
	e := &Engine{cfg: cfg, d: cfg.Dialect, models: map[string]*schema.Model{}}
	tables := map[string]string{}
	for _, md := range cfg.Models {
		if md.Err != nil {
			return nil, md.Err
		}
		if e.models[md.Name] != nil {
			return nil, verr.Schemaf(md.Name, "", "two models share the name")
		}
		if other, ok := tables[md.Table]; ok {
			return nil, verr.Schemaf(md.Name, "", "table %q is also used by model %s", md.Table, other)
		}
		tables[md.Table] = md.Name
		e.models[md.Name] = md
	}
	var err error
	if e.rels, err = schema.Resolve(e.models); err != nil {
		return nil, err
	}
	if err = schema.BindRelations(e.rels); err != nil {
		return nil, err
	}
	e.pool = Conn{e: e, q: cfg.DB}
	if c := cfg.Cache; c != nil {
		version := c.Version()
		e.prefix = cache.Prefix(version)
		e.keyOpt = &cache.KeyOptions{Version: version}
		o := inval.Options{Timeout: cfg.InvalidateTimeout, Retry: cfg.InvalidateRetry, Log: cfg.Log, Failed: cfg.InvalidateFailed}
		if o.Timeout <= 0 {
			o.Timeout = cache.DefaultTimeout
		}
		if o.Retry <= 0 {
			o.Retry = 30 * time.Second
		}
		e.inv = inval.New(c, o)
	}
	return e, nil
}

// Dialect returns the engine's dialect.
func (e *Engine) Dialect() dialect.Dialect { return e.d }

// Cache returns the engine's cache, nil when it has none.
func (e *Engine) Cache() *cache.Cache { return e.cfg.Cache }

// Rels returns the resolved relations of the engine's models.
func (e *Engine) Rels() query.Rels { return e.rels }

// Pool returns the connection of operations run on the pool.
func (e *Engine) Pool() *Conn { return &e.pool }

// Closed reports whether Close has been called.
func (e *Engine) Closed() bool { return e.closed.Load() }

// Close marks the engine closed, so that every operation started from now on
// fails, and abandons the invalidation retries still running, reporting them
// through Config.InvalidateFailed. It reports false when the engine was
// already closed. Closing the cache and the database is the caller's.
func (e *Engine) Close() bool {
	e.closeMu.Lock()
	if e.closed.Load() {
		e.closeMu.Unlock()
		return false
	}
	e.closed.Store(true)
	e.closeMu.Unlock()
	if e.inv != nil {
		e.inv.Close()
	}
	return true
}

// FullKey prefixes a key or pattern with the engine's prefix unless it
// already starts with "viborm:".
func (e *Engine) FullKey(k string) string {
	if strings.HasPrefix(k, "viborm:") {
		return k
	}
	return e.prefix + ":" + k
}

// Invalidate removes the cached reads named by patterns (see
// viborm.Client.Invalidate).
func (e *Engine) Invalidate(ctx context.Context, patterns []string) error {
	if e.cfg.Cache == nil {
		return &verr.Error{Code: verr.CodeCacheNotConfigured, Message: "Invalidate needs Config.Cache"}
	}
	if e.closed.Load() {
		return verr.Closed("invalidate")
	}
	full := make([]string, len(patterns))
	for i, p := range patterns {
		if p == "" || p == "*" {
			return &verr.Error{Code: verr.CodeInvalidCacheKey, Message: "empty invalidation pattern"}
		}
		full[i] = e.FullKey(p)
	}
	if err := e.cfg.Cache.Invalidate(ctx, full...); err != nil {
		return &verr.Error{Code: verr.CodeCacheInvalidation, Message: "invalidation failed", Err: err}
	}
	return nil
}

// DBError maps a database error of op on md (nil for raw SQL) to a
// *verr.Error. Errors already mapped, and context errors, are returned as
// they are.
func (e *Engine) DBError(err error, md *schema.Model, op string) error {
	if err == nil {
		return nil
	}
	var ve *verr.Error
	var re *rowcodec.RangeError
	switch {
	case errors.As(err, &ve), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &re):
		return &verr.Error{Code: verr.CodeDatabase, Field: re.Column, Message: re.Error(), Err: verr.ErrOutOfRange}
	}
	model := ""
	if md != nil {
		model = md.Name
	}
	if e.closed.Load() && err.Error() == "sql: database is closed" { // database/sql exports no sentinel
		ce := verr.Closed(op)
		ce.Model, ce.Err = model, err
		return ce
	}
	var code verr.Code
	if e.cfg.Classify != nil {
		code = e.cfg.Classify(err)
	}
	return verr.Database(err, code, model, op)
}

// Push returns the DDL that creates the schema's missing tables, keys,
// indexes and foreign keys, in foreign key order, and unless dryRun runs it
// and then checks the schema (see viborm.Client.Push).
func (e *Engine) Push(ctx context.Context, dryRun bool) ([]string, error) {
	if e.closed.Load() {
		return nil, verr.Closed("push")
	}
	var sts []string
	for _, md := range schema.FKOrder(e.models, e.rels) {
		sts = append(sts, sqlgen.CreateTable(e.d, md, e.rels[md])...)
	}
	for _, j := range schema.Junctions(e.rels) { // after both sides' tables
		sts = append(sts, sqlgen.CreateJunction(e.d, j)...)
	}
	if dryRun {
		return sts, nil
	}
	for _, st := range sts {
		if _, err := e.cfg.DB.ExecContext(ctx, st); err != nil { // DDL is not reported to hooks
			return sts, e.DBError(err, nil, "push")
		}
	}
	// Tables that existed are left as they are: report any drift.
	return sts, e.CheckSchema(ctx)
}

// CheckSchema compares the models with the database (see
// viborm.Client.CheckSchema).
func (e *Engine) CheckSchema(ctx context.Context) error {
	if e.closed.Load() {
		return verr.Closed("checkSchema")
	}
	var problems []string
	first := ""
	check := func(table, model string, drift func(have map[string]bool) []string) error {
		have, err := e.tableColumns(ctx, table)
		if err != nil {
			return e.DBError(err, nil, "checkSchema")
		}
		miss := drift(have)
		if len(miss) > 0 && first == "" {
			first = model
		}
		problems = append(problems, miss...)
		return nil
	}
	for _, n := range slices.Sorted(maps.Keys(e.models)) {
		md := e.models[n]
		if err := check(md.Table, md.Name, func(have map[string]bool) []string { return sqlgen.Drift(e.d, md, have) }); err != nil {
			return err
		}
	}
	for _, j := range schema.Junctions(e.rels) {
		if err := check(j.Table, j.Source.Name, func(have map[string]bool) []string { return sqlgen.JunctionDrift(j, have) }); err != nil {
			return err
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &verr.Error{Code: verr.CodeSchema, Model: first, Op: "checkSchema",
		Message: "the database does not match the models: " + strings.Join(problems, "; ")}
}

// tableColumns returns the column names of table; none when it is missing.
func (e *Engine) tableColumns(ctx context.Context, table string) (map[string]bool, error) {
	rows, err := e.cfg.DB.QueryContext(ctx, e.d.ColumnsSQL(), table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}
