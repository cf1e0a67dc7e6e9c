// Package sqlb builds SQL statements with bound arguments for a dialect.
package sqlb

import "github.com/viborm/viborm-go/internal/dialect"

// Builder accumulates SQL text and its arguments.
type Builder struct {
	D    *dialect.Dialect
	buf  []byte
	args []any
}

// New returns a Builder for d.
func New(d *dialect.Dialect) *Builder { return &Builder{D: d, buf: make([]byte, 0, 128)} }

// S appends raw SQL text.
func (b *Builder) S(s string) *Builder { b.buf = append(b.buf, s...); return b }

// Ident appends a quoted identifier.
func (b *Builder) Ident(name string) *Builder { b.buf = b.D.AppendIdent(b.buf, name); return b }

// Arg appends a placeholder bound to v.
func (b *Builder) Arg(v any) *Builder {
	b.args = append(b.args, v)
	b.buf = b.D.AppendPlaceholder(b.buf, len(b.args))
	return b
}

// Len returns the length of the SQL so far.
func (b *Builder) Len() int { return len(b.buf) }

// Truncate cuts the SQL back to n bytes (arguments are kept).
func (b *Builder) Truncate(n int) { b.buf = b.buf[:n] }

// SQL returns the statement text.
func (b *Builder) SQL() string { return string(b.buf) }

// Args returns the bound arguments.
func (b *Builder) Args() []any { return b.args }

// Raw appends bytes produced by the dialect's Append methods: f receives the
// statement so far and returns it extended.
func (b *Builder) Raw(f func([]byte) []byte) *Builder { b.buf = f(b.buf); return b }
