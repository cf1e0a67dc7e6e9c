package viborm

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/sqlb"
	"github.com/viborm/viborm-go/s"
)

// Driver is a database connection for the client: a *sql.DB and the name of
// its SQL dialect ("sqlite", "postgres" or "mysql"). The packages under
// driver/ provide them; any *sql.DB can be wrapped with [FromDB].
//
// A Driver may also implement [ErrorClassifier], to map its database's
// errors to codes, and Close() error, which [Client.Close] calls.
type Driver interface {
	DB() *sql.DB
	Dialect() string
}

// ErrorClassifier maps a database error to a [Code] ("" when unknown).
type ErrorClassifier interface {
	ClassifyError(err error) Code
}

type plainDriver struct {
	db      *sql.DB
	dialect string
}

func (d plainDriver) DB() *sql.DB     { return d.db }
func (d plainDriver) Dialect() string { return d.dialect }

// FromDB wraps a *sql.DB of the given dialect. Errors are not classified
// beyond not-found and connection errors; prefer the driver packages'
// FromDB, which classify. The client never closes db.
func FromDB(db *sql.DB, dialectName string) Driver { return plainDriver{db, dialectName} }

// Config configures a [Client]. Zero fields mean defaults.
type Config struct {
	// Models are the models the client serves.
	Models []AnyModel
	// Driver is the database. Required.
	Driver Driver
	// Cache, when set, enables [Client.WithCache] and invalidation. The
	// client owns it from then on: [Client.Close] closes it.
	Cache *cache.Cache
	// CacheVersion is VibORM's cacheVersion: keys become
	// "viborm:v<CacheVersion>:…". Empty means the cache's own version
	// (cache.Options.Version).
	CacheVersion string
	// WaitUntil is VibORM's waitUntil: it schedules the background work of
	// the client's cached reads (the write after a miss, stale refreshes;
	// handed to the cache per read as cache.Policy.WaitUntil) and the
	// client's invalidation retries. It must run each task exactly once; a
	// serverless handler waits for the tasks it was given before returning.
	// Nil means the cache's own cache.Options.WaitUntil, and goroutines the
	// cache and client own and Close waits for.
	WaitUntil func(ctx context.Context, task func(context.Context))
	// AutoInvalidate is the default of [Invalidate.Auto] for writes: clear
	// the written model's cached reads after each write. Off by default, as
	// in VibORM.
	AutoInvalidate bool
	// Logger receives invalidation failures. Nil means slog.Default().
	Logger *slog.Logger
	// InvalidateTimeout bounds how long a committed write waits for its
	// invalidation (and each background retry of it). When it passes, the
	// write returns success and the invalidation is retried in the
	// background. Zero means the cache's timeout where the cache reports
	// one (a Timeout() method), otherwise cache.DefaultTimeout (250ms).
	InvalidateTimeout time.Duration
	// InvalidateRetry bounds how long a failed invalidation after a
	// committed write is retried in the background. Default 30s.
	InvalidateRetry time.Duration
	// OnInvalidateError, when set, is called when an invalidation after a
	// committed write has failed for good: after the retries, or when
	// [Client.Close] abandoned the retry (the error then matches
	// [ErrClosed] as well as [ErrCacheInvalidation]).
	OnInvalidateError func(err error)
	// CheckSchema makes NewClient compare the models with the database's
	// tables (see [Client.CheckSchema]) and fail on a missing table or
	// column.
	CheckSchema bool
}

// Client is the ORM client. It is safe for concurrent use. A *Client is both
// a [Reader] and a [Writer]: pass it to a model's methods.
type Client struct {
	cfg    Config
	db     *sql.DB
	d      *dialect.Dialect
	models map[string]*model
	rels   map[*model][]*relation // resolved per client: models are shared
	cache  *cache.Cache
	prefix string
	keyOpt *cache.KeyOptions
	log    *slog.Logger
	ex     executor

	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc
	closeMu  sync.Mutex  // orders bg.Add against Close
	closed   atomic.Bool // set under closeMu
	invWait  time.Duration
}

// NewClient checks the schema and its binding to Go types, and returns a
// client. It does not touch the database unless Config.CheckSchema is set:
// call [Client.Push] to create the tables.
func NewClient(cfg Config) (*Client, error) {
	if cfg.Driver == nil || cfg.Driver.DB() == nil {
		return nil, &Error{Code: CodeSchema, Message: "Config.Driver is required"}
	}
	d := dialect.ByName(cfg.Driver.Dialect())
	if d == nil {
		return nil, &Error{Code: CodeSchema, Message: fmt.Sprintf("unknown dialect %q", cfg.Driver.Dialect())}
	}
	if strings.Contains(cfg.CacheVersion, ":") {
		return nil, &Error{Code: CodeInvalidCacheOption, Field: "CacheVersion", Message: "must not contain ':'"}
	}
	c := &Client{cfg: cfg, db: cfg.Driver.DB(), d: d, models: map[string]*model{}, cache: cfg.Cache, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.cfg.InvalidateRetry <= 0 {
		c.cfg.InvalidateRetry = 30 * time.Second
	}
	c.invWait = c.cfg.InvalidateTimeout
	if c.invWait <= 0 {
		c.invWait = cache.DefaultTimeout
		if tc, ok := any(c.cache).(interface{ Timeout() time.Duration }); ok && tc.Timeout() > 0 {
			c.invWait = tc.Timeout()
		}
	}
	if c.cache != nil {
		version := cfg.CacheVersion
		if version == "" {
			version = c.cache.Version()
		}
		c.prefix = cache.Prefix(version)
		c.keyOpt = &cache.KeyOptions{Version: version}
	}
	tables := map[string]string{}
	for _, am := range cfg.Models {
		if am == nil {
			return nil, &Error{Code: CodeSchema, Message: "nil model in Config.Models"}
		}
		md := am.meta()
		if md.err != nil {
			return nil, md.err
		}
		if c.models[md.name] != nil {
			return nil, schemaf(md.name, "", "two models share the name")
		}
		if other, ok := tables[md.table]; ok {
			return nil, schemaf(md.name, "", "table %q is also used by model %s", md.table, other)
		}
		tables[md.table] = md.name
		c.models[md.name] = md
	}
	c.rels = map[*model][]*relation{}
	for _, md := range c.models {
		rels, err := c.resolveRelations(md)
		if err != nil {
			return nil, err
		}
		c.rels[md] = rels
	}
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	c.ex = executor{c: c, q: c.db}
	if cfg.CheckSchema {
		if err := c.CheckSchema(context.Background()); err != nil {
			c.bgCancel()
			return nil, err
		}
	}
	return c, nil
}

func (c *Client) resolveRelations(md *model) ([]*relation, error) {
	var out []*relation
	for _, rd := range md.relDefs {
		t := c.models[rd.Target]
		if t == nil {
			return nil, schemaf(md.name, rd.Name, "relation target %q is not among Config.Models", rd.Target)
		}
		if md.byName[rd.Name] != nil {
			return nil, schemaf(md.name, rd.Name, "a relation has the name of a field")
		}
		r := &relation{def: rd, target: t}
		if len(rd.Fields) != len(rd.References) {
			return nil, schemaf(md.name, rd.Name, "fields and references must have the same length")
		}
		if rd.Kind == s.OneToManyKind && len(rd.Fields) > 0 {
			return nil, schemaf(md.name, rd.Name, "a one-to-many relation cannot hold the foreign key; declare it on the many-to-one side")
		}
		if rd.Kind == s.ManyToOneKind && len(rd.Fields) == 0 {
			return nil, schemaf(md.name, rd.Name, "a many-to-one relation needs Fields(...) and References(...)")
		}
		for i, n := range rd.Fields {
			f := md.byName[n]
			if f == nil {
				return nil, schemaf(md.name, rd.Name, "unknown foreign key field %q", n)
			}
			ref := t.byName[rd.References[i]]
			if ref == nil {
				return nil, schemaf(md.name, rd.Name, "unknown referenced field %q of %s", rd.References[i], t.name)
			}
			if ref.kind != f.kind && !(isIntKind(ref.kind) && isIntKind(f.kind)) {
				return nil, schemaf(md.name, rd.Name, "foreign key %s (%s) does not match %s.%s (%s)", n, f.kind, t.name, ref.name, ref.kind)
			}
			r.fields = append(r.fields, f)
			r.refs = append(r.refs, ref)
		}
		if len(r.refs) > 0 && !t.isUniqueSet(r.refs) {
			return nil, schemaf(md.name, rd.Name, "the referenced fields of %s are not its id or a unique constraint", t.name)
		}
		if rd.OnDelete == s.SetNull || rd.OnUpdate == s.SetNull {
			for _, f := range r.fields {
				if !f.def.Nullable {
					return nil, schemaf(md.name, rd.Name, "SET NULL needs nullable foreign key fields")
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func isIntKind(k s.Kind) bool { return k == s.KindInt || k == s.KindBigInt }

func (md *model) isUniqueSet(fs []*field) bool {
	for _, u := range md.uniques {
		if len(u) != len(fs) {
			continue
		}
		ok := true
		for _, f := range u {
			found := false
			for _, g := range fs {
				if f == g {
					found = true
				}
			}
			ok = ok && found
		}
		if ok {
			return true
		}
	}
	return false
}

// Dialect returns the name of the client's SQL dialect.
func (c *Client) Dialect() string { return c.d.Name }

// DB returns the client's *sql.DB.
func (c *Client) DB() *sql.DB { return c.db }

// Close stops the client's background work and waits for it, then closes
// the cache, which waits for its refreshes and writes, and the driver when it
// has a Close method. An invalidation retry still running is abandoned at
// once and reported through Config.OnInvalidateError (the error matches
// [ErrClosed]); so is the invalidation of a write that commits while Close
// runs. No goroutine of the client outlives Close. Every operation started
// after Close fails with [ErrClosed] (code [CodeClosed]). Close is
// idempotent.
func (c *Client) Close() error {
	c.closeMu.Lock()
	if c.closed.Load() {
		c.closeMu.Unlock()
		return nil
	}
	c.closed.Store(true)
	c.closeMu.Unlock()
	c.bgCancel() // retries stop and report
	c.bg.Wait()
	var errs []error
	if c.cache != nil {
		errs = append(errs, c.cache.Close())
	}
	if cl, ok := c.cfg.Driver.(interface{ Close() error }); ok {
		errs = append(errs, cl.Close())
	}
	return errors.Join(errs...)
}

// ---- executors ----

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type executor struct {
	c   *Client
	q   querier
	tx  *Tx
	pol *cache.Policy // for cached reads
	err error         // a WithCache configuration error
}

// Reader runs reads: a *Client, a *Tx or a *Cached.
type Reader interface {
	readExecutor() *executor
}

// Writer runs reads and writes: a *Client or a *Tx. A *Cached is not a
// Writer, so a write through a cached handle does not compile.
type Writer interface {
	Reader
	writeExecutor() *executor
}

func (c *Client) readExecutor() *executor  { return &c.ex }
func (c *Client) writeExecutor() *executor { return &c.ex }

// ---- cache options ----

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
	p := &cache.Policy{TTL: o.TTL, SWR: o.SWR || o.StaleWindow > 0, StaleWindow: o.StaleWindow, Bypass: o.Bypass, Key: o.Key, WaitUntil: c.cfg.WaitUntil}
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

// ---- invalidation ----

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

// writePatterns returns what a write on md with inv invalidates.
func (c *Client) writePatterns(md *model, inv *Invalidate) []string {
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
		keys = append(keys, c.prefix+":"+md.name+":*")
	}
	return keys
}

// afterWrite runs invalidations of a committed write. It never fails the
// write and holds it at most Config.InvalidateTimeout (the cache's timeout by
// default), whatever ctx allows: a failure or a timeout is logged and handed
// to a background retry, bounded by Config.InvalidateRetry and stopped by
// Close, which reports a retry that failed for good through
// Config.OnInvalidateError.
func (c *Client) afterWrite(ctx context.Context, patterns []string) {
	if len(patterns) == 0 {
		return
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.invWait)
	err := c.cache.Invalidate(ictx, patterns...)
	cancel()
	if err == nil {
		return
	}
	c.closeMu.Lock()
	if c.closed.Load() {
		// Close has begun (and may be waiting for bg): start nothing.
		c.closeMu.Unlock()
		c.invalidateFailed(err, true)
		return
	}
	c.bg.Add(1)
	c.closeMu.Unlock()
	c.log.Warn("viborm: cache invalidation after a write failed; retrying in the background", "err", err, "patterns", len(patterns))
	run := func(context.Context) {
		defer c.bg.Done()
		c.retryInvalidate(patterns, err)
	}
	if c.cfg.WaitUntil != nil {
		c.cfg.WaitUntil(context.WithoutCancel(ctx), run)
	} else {
		go run(context.Background())
	}
}

// retryInvalidate retries patterns with a backoff until it succeeds, the
// retry window ends or the client closes.
func (c *Client) retryInvalidate(patterns []string, err error) {
	deadline := time.Now().Add(c.cfg.InvalidateRetry)
	delay := 50 * time.Millisecond
	for time.Now().Before(deadline) {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.bgCtx.Done():
			t.Stop()
			c.invalidateFailed(err, true)
			return
		}
		ctx, cancel := context.WithTimeout(c.bgCtx, c.invWait)
		err = c.cache.Invalidate(ctx, patterns...)
		cancel()
		if err == nil {
			return
		}
		if c.bgCtx.Err() != nil {
			c.invalidateFailed(err, true)
			return
		}
		delay = min(delay*2, 2*time.Second)
	}
	c.invalidateFailed(err, false)
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

// closedError is the error of an operation started after Close.
func closedError(op string) *Error {
	return &Error{Code: CodeClosed, Op: op, Message: "the client is closed"}
}

// ---- transactions ----

// Tx is a transaction, a [Reader] and [Writer] for the model methods. Cache
// invalidations requested by its writes run after COMMIT, and not at all on
// rollback.
type Tx struct {
	ex      executor
	tx      *sql.Tx
	pending []string
}

func (t *Tx) readExecutor() *executor  { return &t.ex }
func (t *Tx) writeExecutor() *executor { return &t.ex }

// TxOptions configures a transaction; nil means the driver's defaults.
type TxOptions = sql.TxOptions

// Tx runs fn in a transaction: it commits when fn returns nil and rolls back
// when fn returns an error or panics. Invalidations requested inside run
// after the commit.
func (c *Client) Tx(ctx context.Context, fn func(tx *Tx) error, opts *TxOptions) (err error) {
	if c.closed.Load() {
		return closedError("transaction")
	}
	stx, err := c.db.BeginTx(ctx, opts)
	if err != nil {
		return c.dbError(err, nil, "transaction")
	}
	t := &Tx{tx: stx}
	t.ex = executor{c: c, q: stx, tx: t}
	defer func() {
		if p := recover(); p != nil {
			_ = stx.Rollback()
			panic(p)
		}
	}()
	if err := fn(t); err != nil {
		_ = stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		return c.dbError(err, nil, "commit")
	}
	c.afterWrite(ctx, t.pending)
	return nil
}

// QueryRaw runs a raw query inside the transaction.
func (t *Tx) QueryRaw(ctx context.Context, query string, args ...any) ([]Row, error) {
	return t.ex.queryRaw(ctx, query, args)
}

// ExecRaw runs a raw statement inside the transaction.
func (t *Tx) ExecRaw(ctx context.Context, query string, args ...any) (int64, error) {
	return t.ex.execRaw(ctx, query, args)
}

// inTx runs fn in the executor's transaction, or in a new one.
func (ex *executor) inTx(ctx context.Context, fn func(q querier) error) error {
	if ex.tx != nil {
		return fn(ex.q)
	}
	stx, err := ex.c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(stx); err != nil {
		_ = stx.Rollback()
		return err
	}
	return stx.Commit()
}

// invalidateAfter schedules patterns after a successful write: now, or at
// COMMIT inside a transaction.
func (ex *executor) invalidateAfter(ctx context.Context, md *model, inv *Invalidate) {
	ps := ex.c.writePatterns(md, inv)
	if len(ps) == 0 {
		return
	}
	if ex.tx != nil {
		ex.tx.pending = append(ex.tx.pending, ps...)
		return
	}
	ex.c.afterWrite(ctx, ps)
}

// ---- raw SQL ----

// QueryRaw runs a raw query with bound arguments, written with '?'
// placeholders on every dialect (rewritten to $n on PostgreSQL). It is never
// cached. Values are returned as the driver gives them ([]byte copied).
func (c *Client) QueryRaw(ctx context.Context, query string, args ...any) ([]Row, error) {
	return c.ex.queryRaw(ctx, query, args)
}

// ExecRaw runs a raw statement and returns the number of affected rows.
func (c *Client) ExecRaw(ctx context.Context, query string, args ...any) (int64, error) {
	return c.ex.execRaw(ctx, query, args)
}

func (ex *executor) rawSQL(query string, args []any) (string, error) {
	if ex.c.closed.Load() {
		return "", closedError("raw")
	}
	if ex.c.d != dialect.Postgres {
		return query, nil
	}
	out, n := sqlb.RewritePlaceholders(query)
	if n != len(args) {
		return "", validationf("args", "the query has %d placeholders but %d arguments", n, len(args))
	}
	return out, nil
}

func (ex *executor) queryRaw(ctx context.Context, query string, args []any) ([]Row, error) {
	q, err := ex.rawSQL(query, args)
	if err != nil {
		return nil, err
	}
	rows, err := ex.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, ex.c.dbError(err, nil, "queryRaw")
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, ex.c.dbError(err, nil, "queryRaw")
	}
	out := []Row{}
	vals := make([]any, len(cols))
	dest := make([]any, len(cols))
	for i := range vals {
		dest[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, ex.c.dbError(err, nil, "queryRaw")
		}
		r := make(Row, len(cols))
		for i, n := range cols {
			if b, ok := vals[i].([]byte); ok {
				r[n] = append([]byte(nil), b...)
			} else {
				r[n] = vals[i]
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, ex.c.dbError(err, nil, "queryRaw")
	}
	return out, nil
}

func (ex *executor) execRaw(ctx context.Context, query string, args []any) (int64, error) {
	q, err := ex.rawSQL(query, args)
	if err != nil {
		return 0, err
	}
	res, err := ex.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, ex.c.dbError(err, nil, "executeRaw")
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// dbError maps a database error to an *Error.
func (c *Client) dbError(err error, md *model, op string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if c.closed.Load() && err.Error() == "sql: database is closed" { // database/sql exports no sentinel
		ce := closedError(op)
		ce.Err = err
		if md != nil {
			ce.Model = md.name
		}
		return ce
	}
	code := Code("")
	if cl, ok := c.cfg.Driver.(ErrorClassifier); ok {
		code = cl.ClassifyError(err)
	}
	if code == "" {
		switch {
		case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
			code = CodeConnection
		default:
			code = CodeDatabase
		}
	}
	if code == CodeSchema && md == nil {
		code = CodeDatabase // a raw query's own mistake, not the models'
	}
	out := &Error{Code: code, Op: op, Message: "database error", Err: err}
	switch code {
	case CodeSchema:
		out.Message = "the database does not match the models (a missing table or column): Client.CheckSchema lists the differences and what to run"
	case CodeUniqueViolation:
		out.Message = "unique constraint violation"
	case CodeForeignKey:
		out.Message = "foreign key violation"
	case CodeNotNull:
		out.Message = "not-null violation"
	case CodeSerialization:
		out.Message = "serialization failure or deadlock"
	case CodeConnection:
		out.Message = "connection error"
	}
	if md != nil {
		out.Model = md.name
	}
	return out
}

// model finds md among the client's models.
func (ex *executor) model(md *model) (*model, error) {
	if md.err != nil {
		return nil, md.err
	}
	if ex.c.closed.Load() {
		return nil, &Error{Code: CodeClosed, Model: md.name, Message: "the client is closed"}
	}
	if ex.c.models[md.name] != md {
		return nil, &Error{Code: CodeSchema, Model: md.name, Message: "the model is not in this client's Config.Models"}
	}
	return md, nil
}
