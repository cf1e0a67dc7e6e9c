// Package querylog logs the SQL statements of a viborm client with log/slog:
// a [viborm.Hook] to put in viborm.Config.Hooks.
//
//	db, err := viborm.NewClient(viborm.Config{
//		// …
//		Hooks: []viborm.Hook{querylog.New(slog.Default(), &querylog.Options{SlowThreshold: 200 * time.Millisecond})},
//	})
package querylog

import (
	"context"
	"log/slog"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/internal/redact"
)

// Options configures a [Logger]. A nil *Options, and every nil or zero
// field, means the default.
type Options struct {
	// Level is the level of a statement's record. Nil means
	// slog.LevelDebug.
	Level slog.Leveler
	// ErrorLevel is the level of a failed statement's record. Nil means
	// slog.LevelError.
	ErrorLevel slog.Leveler
	// SlowThreshold, when positive, logs the statements that took at least
	// this long at SlowLevel, with the message "viborm: slow query".
	SlowThreshold time.Duration
	// SlowLevel is the level of a slow statement's record. Nil means
	// slog.LevelWarn.
	SlowLevel slog.Leveler
	// Args logs the statements' argument values, their SQL as it was sent
	// and database errors as they are. Values can be user data, so by
	// default only their number is logged, and the quoted parts and numbers
	// of error messages (MySQL quotes a duplicate value) are replaced by '?'.
	Args bool
}

// Logger is a [viborm.Hook] that logs every SQL statement with log/slog: the
// SQL text, its duration, the rows it affected, the model and operation that
// ran it, and its error. Argument values are left out unless
// [Options.Args] asks for them: the SQL is logged with its
// placeholders and with any literal value (a LIMIT, a number or string
// written into raw SQL) replaced by '?'. Put it in viborm.Config.Hooks; it
// is safe for concurrent use.
type Logger struct {
	log                    *slog.Logger
	level, errLevel, slowL slog.Leveler
	slow                   time.Duration
	args                   bool
}

// New returns a Logger writing to l (nil means slog.Default()).
func New(l *slog.Logger, opts *Options) *Logger {
	var o Options
	if opts != nil {
		o = *opts
	}
	if l == nil {
		l = slog.Default()
	}
	q := &Logger{log: l, level: o.Level, errLevel: o.ErrorLevel, slowL: o.SlowLevel, slow: o.SlowThreshold, args: o.Args}
	if q.level == nil {
		q.level = slog.LevelDebug
	}
	if q.errLevel == nil {
		q.errLevel = slog.LevelError
	}
	if q.slowL == nil {
		q.slowL = slog.LevelWarn
	}
	return q
}

// BeforeOperation returns ctx: operations are not logged.
func (q *Logger) BeforeOperation(ctx context.Context, _ *viborm.OperationEvent) context.Context {
	return ctx
}

// AfterOperation does nothing.
func (q *Logger) AfterOperation(context.Context, *viborm.OperationEvent) {}

// BeforeQuery returns ctx.
func (q *Logger) BeforeQuery(ctx context.Context, _ *viborm.QueryEvent) context.Context { return ctx }

// AfterQuery logs the statement.
func (q *Logger) AfterQuery(ctx context.Context, e *viborm.QueryEvent) {
	slow := e.Err == nil && q.slow > 0 && e.Duration >= q.slow
	level := q.level.Level()
	switch {
	case e.Err != nil:
		level = q.errLevel.Level()
	case slow:
		level = q.slowL.Level()
	}
	if !q.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	sql := e.Query
	if !q.args {
		sql = redact.SQL(sql)
	}
	attrs = append(attrs, slog.String("sql", sql), slog.Duration("duration", e.Duration))
	if e.Rows >= 0 {
		attrs = append(attrs, slog.Int64("rows", e.Rows))
	}
	if e.Model != "" {
		attrs = append(attrs, slog.String("model", e.Model), slog.String("operation", e.Operation))
	}
	if q.args {
		attrs = append(attrs, slog.Any("args", e.Args))
	} else if len(e.Args) > 0 {
		attrs = append(attrs, slog.Int("args", len(e.Args)))
	}
	if e.Err != nil {
		if q.args {
			attrs = append(attrs, slog.Any("err", e.Err))
		} else {
			attrs = append(attrs, slog.String("err", redact.Message(e.Err.Error())))
		}
	}
	msg := "viborm: query"
	if slow {
		msg = "viborm: slow query"
	}
	q.log.LogAttrs(ctx, level, msg, attrs...)
}
