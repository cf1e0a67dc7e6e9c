// Package dialect describes the SQL dialects the ORM speaks. A [Dialect] is
// what the SQL compiler (internal/sqlgen) and the schema's DDL ask about the
// database: how to quote and bind, which features it has, how to match
// text, how to store a value, the column type of a field. There is one
// implementation per database (sqlite.go, postgres.go, mysql.go); no other
// package compares dialects by name or identity: they ask a method or a
// [Feature].
package dialect

import (
	"encoding/json"
	"time"

	"github.com/viborm/viborm-go/s"
)

// Feature is a capability a dialect may have; see [Dialect.Has].
type Feature uint32

// The features.
const (
	// Returning: INSERT … RETURNING returns the written row.
	Returning Feature = 1 << iota
	// NullsOrdering: ORDER BY … NULLS FIRST / NULLS LAST. Without it the
	// compiler emulates them with an "x IS NULL" sort key.
	NullsOrdering
	// ForUpdate: SELECT … FOR UPDATE locks the rows it reads. SQLite locks
	// the database for the transaction instead.
	ForUpdate
	// DefaultValues: INSERT INTO t DEFAULT VALUES inserts a row of
	// defaults (MySQL writes "() VALUES ()").
	DefaultValues
	// UpsertAnyKey: the native upsert (ON DUPLICATE KEY UPDATE) fires on any
	// unique key, not one named key, and cannot return the row.
	UpsertAnyKey
	// DecimalText: decimals are stored as exact text; the compiler casts
	// them to numbers to compare, order, sum and average them.
	DecimalText
	// InlineAutoID: an autoincrement id column declares the primary key
	// itself ("INTEGER PRIMARY KEY AUTOINCREMENT").
	InlineAutoID
	// IndexInTable: secondary indexes are declared inside CREATE TABLE
	// rather than by CREATE INDEX IF NOT EXISTS.
	IndexInTable
	// NullsLargest: with no NULLS FIRST/LAST, NULLs sort as larger than
	// every value (last ascending, first descending); without it, as
	// smaller. Cursor pagination needs to know where they are.
	NullsLargest
)

// Match is how a dialect matches text with contains, startsWith and
// endsWith; see [Dialect.Match].
type Match uint8

// The text matching strategies.
const (
	// MatchLike: col LIKE pattern ESCAPE '!', case-sensitive.
	MatchLike Match = iota + 1
	// MatchGlob: col GLOB pattern, case-sensitive (SQLite, whose LIKE
	// ignores ASCII case).
	MatchGlob
	// MatchILike: col ILIKE pattern ESCAPE '!', case-insensitive.
	MatchILike
	// MatchFoldLike: col LIKE pattern ESCAPE '!', where LIKE itself
	// ignores case (SQLite, ASCII).
	MatchFoldLike
	// MatchLowerLike: LOWER(col) LIKE lower(pattern) ESCAPE '!'.
	MatchLowerLike
)

// Dialect is one SQL dialect. Implementations are stateless values, safe
// for concurrent use.
type Dialect interface {
	// Name is "sqlite", "postgres" or "mysql".
	Name() string
	// Has reports whether the dialect has feature f.
	Has(f Feature) bool
	// AppendIdent appends name quoted as an identifier.
	AppendIdent(b []byte, name string) []byte
	// AppendPlaceholder appends the placeholder of the n-th argument
	// (1-based).
	AppendPlaceholder(b []byte, n int) []byte
	// RawSQL returns a raw query written with '?' placeholders in the
	// dialect's own placeholders, and how many it found; rewritten is false
	// when the dialect uses '?' itself (the query is returned unchanged and
	// not counted).
	RawSQL(q string) (out string, n int, rewritten bool)
	// Match returns the text matching strategy, case-insensitive or not.
	Match(insensitive bool) Match
	// MaxLimit is the LIMIT that means "no limit", for an OFFSET without a
	// LIMIT; "" when OFFSET may stand alone.
	MaxLimit() string
	// IntDiv is the integer division operator for integer columns, "" when
	// "/" already divides integers.
	IntDiv() string
	// Arg converts a canonical value (see internal/schema) into the value
	// bound for the database driver.
	Arg(v any) any
	// ColumnType is the SQL type of a field's column; autoID marks a
	// single-field autoincrement id.
	ColumnType(def s.FieldDef, autoID bool) string
	// TableOptions is appended to CREATE TABLE (…), "" for none.
	TableOptions() string
	// ColumnsSQL lists the column names of a table, bound as its one
	// argument; no rows when the table does not exist.
	ColumnsSQL() string
	// AppendUpsert appends the conflict clause of a native upsert on the
	// unique key made of the columns key, up to the assignments.
	AppendUpsert(b []byte, key []string) []byte
	// AppendExisting appends a reference to the existing row's column in
	// the assignments of the conflict clause.
	AppendExisting(b []byte, table, col string) []byte
}

// ByName returns the dialect of a driver name, nil when unknown.
func ByName(name string) Dialect {
	switch name {
	case "sqlite", "sqlite3":
		return SQLite
	case "postgres", "postgresql", "pgx":
		return Postgres
	case "mysql", "mariadb":
		return MySQL
	}
	return nil
}

// The dialects.
var (
	SQLite   Dialect = sqlite{base{name: "sqlite", quote: '`', feat: Returning | NullsOrdering | DefaultValues | DecimalText | InlineAutoID, maxLimit: "-1"}}
	Postgres Dialect = postgres{base{name: "postgres", quote: '"', feat: Returning | NullsOrdering | ForUpdate | DefaultValues | NullsLargest}}
	MySQL    Dialect = mysql{base{name: "mysql", quote: '`', feat: ForUpdate | UpsertAnyKey | IndexInTable, maxLimit: "18446744073709551615"}}
)

// base holds what the dialects share; each dialect embeds it and overrides
// what differs.
type base struct {
	name     string
	quote    byte
	feat     Feature
	maxLimit string
}

func (d base) Name() string       { return d.name }
func (d base) Has(f Feature) bool { return d.feat&f == f }
func (d base) MaxLimit() string   { return d.maxLimit }
func (d base) IntDiv() string     { return "" }
func (d base) TableOptions() string {
	return ""
}

func (d base) AppendIdent(b []byte, name string) []byte {
	b = append(b, d.quote)
	for i := 0; i < len(name); i++ {
		if name[i] == d.quote {
			b = append(b, d.quote)
		}
		b = append(b, name[i])
	}
	return append(b, d.quote)
}

func (d base) AppendPlaceholder(b []byte, _ int) []byte { return append(b, '?') }

func (d base) RawSQL(q string) (string, int, bool) { return q, 0, false }

func (d base) Match(insensitive bool) Match {
	if insensitive {
		return MatchLowerLike
	}
	return MatchLike
}

func (d base) Arg(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case json.RawMessage:
		return string(x)
	}
	return v
}

// AppendUpsert writes the ON CONFLICT clause; MySQL overrides it.
func (d base) AppendUpsert(b []byte, key []string) []byte {
	b = append(b, " ON CONFLICT ("...)
	for i, k := range key {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = d.AppendIdent(b, k)
	}
	return append(b, ") DO UPDATE SET "...)
}

func (d base) AppendExisting(b []byte, table, col string) []byte {
	b = append(d.AppendIdent(b, table), '.')
	return d.AppendIdent(b, col)
}
