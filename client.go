package viborm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/engine"
	"github.com/viborm/viborm-go/internal/verr"
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
	// client owns it from then on: [Client.Close] closes it. The client takes
	// two settings from it rather than having its own: the version in its
	// keys (cache.Options.Version: keys become "viborm:v<version>:…", as
	// VibORM's cacheVersion), and the background-work hook
	// (cache.Options.WaitUntil, VibORM's waitUntil), which schedules the
	// cache's background work (the write after a miss, stale refreshes) and
	// the client's invalidation retries alike.
	Cache *cache.Cache
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
	// InvalidateRetry is how long a failed invalidation after a committed
	// write is retried in the background with a backoff (50ms to 2s).
	// Default 30s. An invalidation still failing then is reported through
	// OnInvalidateError and owed: it is retried every 5s, with every other
	// owed one, until the cache takes it or the client closes, so that
	// cached reads from before the write do not outlive a long cache outage
	// by more than a few seconds.
	InvalidateRetry time.Duration
	// OnInvalidateError, when set, is called when an invalidation after a
	// committed write has failed: once its InvalidateRetry window has
	// passed (it is then owed), or when [Client.Close] abandoned its retry
	// or the owed ones (the error then matches [ErrClosed] as well as
	// [ErrCacheInvalidation]).
	OnInvalidateError func(err error)
	// CheckSchema makes NewClient compare the models with the database's
	// tables (see [Client.CheckSchema]) and fail on a missing table or
	// column.
	CheckSchema bool
	// Hooks observe every operation and SQL statement (see [Hook]): the
	// seam for query logs through the querylog package and for
	// OpenTelemetry through the otelviborm package. Nil means none, at the cost of a nil check.
	Hooks []Hook
}

// Client is the ORM client. It is safe for concurrent use. A *Client is both
// a [Reader] and a [Writer]: pass it to a model's methods.
type Client struct {
	cfg Config
	e   *engine.Engine
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
	c := &Client{cfg: cfg}
	if c.cfg.Logger == nil {
		c.cfg.Logger = slog.Default()
	}
	ec := engine.Config{DB: cfg.Driver.DB(), Dialect: d, Cache: cfg.Cache, AutoInvalidate: cfg.AutoInvalidate,
		Log: c.cfg.Logger, InvalidateTimeout: cfg.InvalidateTimeout, InvalidateRetry: cfg.InvalidateRetry,
		InvalidateFailed: c.invalidateFailed, Public: public, Cond: condOf, Update: updateOf, Nested: nestedOf}
	for _, am := range cfg.Models {
		if am == nil {
			return nil, &Error{Code: CodeSchema, Message: "nil model in Config.Models"}
		}
		ec.Models = append(ec.Models, am.meta())
	}
	if cl, ok := cfg.Driver.(ErrorClassifier); ok {
		ec.Classify = func(err error) verr.Code { return verr.Code(cl.ClassifyError(err)) }
	}
	var hooks []engine.Hook
	for _, h := range cfg.Hooks {
		if h != nil {
			hooks = append(hooks, hookOf{h})
		}
	}
	ec.Hook = engine.Join(hooks...)
	var err error
	if c.e, err = engine.New(ec); err != nil {
		return nil, public(err)
	}
	if cfg.CheckSchema {
		if err := c.CheckSchema(context.Background()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Dialect returns the name of the client's SQL dialect.
func (c *Client) Dialect() string { return c.e.Dialect().Name() }

// DB returns the client's *sql.DB.
func (c *Client) DB() *sql.DB { return c.cfg.Driver.DB() }

// Close is Shutdown without a bound: Shutdown(context.Background()).
func (c *Client) Close() error { return c.Shutdown(context.Background()) }

// Shutdown closes the client: every operation started after it fails with
// [ErrClosed] (code [CodeClosed]). It stops the client's background work
// and waits for it: an invalidation retry still running, and the owed
// invalidations (see Config.InvalidateRetry), are abandoned at once and
// reported through Config.OnInvalidateError (the error matches
// [ErrClosed]), and so is the invalidation of a write that commits while
// Shutdown runs. Then it shuts the cache down, waiting for its refreshes
// and writes until ctx ends (see cache.Cache.Shutdown: when ctx ends first,
// their contexts are cancelled and ctx's error is returned), and closes the
// driver when it has a Close method. No goroutine of the client outlives
// Shutdown. Shutdown and Close are idempotent: later calls return nil.
func (c *Client) Shutdown(ctx context.Context) error {
	if !c.e.Close() { // retries stop and report
		return nil
	}
	var errs []error
	if c.cfg.Cache != nil {
		errs = append(errs, c.cfg.Cache.Shutdown(ctx))
	}
	if cl, ok := c.cfg.Driver.(interface{ Close() error }); ok {
		errs = append(errs, cl.Close())
	}
	return errors.Join(errs...)
}

func (c *Client) conn() *engine.Conn      { return c.e.Pool() }
func (c *Client) writeConn() *engine.Conn { return c.e.Pool() }
