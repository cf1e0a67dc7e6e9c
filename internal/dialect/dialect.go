// Package dialect describes the SQL dialects the client speaks: quoting,
// placeholders, capabilities and column types.
package dialect

import (
	"strconv"

	"github.com/viborm/viborm-go/s"
)

// Dialect is one SQL dialect.
type Dialect struct {
	Name      string // "sqlite", "postgres", "mysql"
	quote     byte
	dollar    bool // $1 placeholders
	Returning bool // INSERT … RETURNING
	ILike     bool // ILIKE for case-insensitive matching
	NullsSort bool // NULLS FIRST / LAST
	// NoOffsetWithoutLimit means OFFSET needs a LIMIT; MaxLimit is the one used.
	MaxLimit string
}

// The dialects.
var (
	// SQLite quotes identifiers with backticks: SQLite reads a double-quoted
	// identifier that names no column as a string literal, so "slug" in a
	// query on a table without that column would silently be the text
	// 'slug'. A backticked name is always an identifier.
	SQLite   = &Dialect{Name: "sqlite", quote: '`', Returning: true, NullsSort: true, MaxLimit: "-1"}
	Postgres = &Dialect{Name: "postgres", quote: '"', dollar: true, Returning: true, ILike: true, NullsSort: true}
	MySQL    = &Dialect{Name: "mysql", quote: '`', MaxLimit: "18446744073709551615"}
)

// ByName returns the dialect called name, or nil.
func ByName(name string) *Dialect {
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

// AppendIdent appends name quoted.
func (d *Dialect) AppendIdent(b []byte, name string) []byte {
	b = append(b, d.quote)
	for i := 0; i < len(name); i++ {
		if name[i] == d.quote {
			b = append(b, d.quote)
		}
		b = append(b, name[i])
	}
	return append(b, d.quote)
}

// Quote returns name quoted.
func (d *Dialect) Quote(name string) string { return string(d.AppendIdent(nil, name)) }

// AppendPlaceholder appends the placeholder of the n-th argument (1-based).
func (d *Dialect) AppendPlaceholder(b []byte, n int) []byte {
	if d.dollar {
		return strconv.AppendInt(append(b, '$'), int64(n), 10)
	}
	return append(b, '?')
}

// ColumnType returns the column type of a field of kind k. autoID is true for
// an autoincrement primary key (whose type carries the key on SQLite and
// MySQL).
func (d *Dialect) ColumnType(def s.FieldDef, autoID bool) string {
	switch d.Name {
	case "sqlite":
		switch def.Kind {
		case s.KindInt, s.KindBigInt:
			if autoID {
				return "INTEGER PRIMARY KEY AUTOINCREMENT"
			}
			return "INTEGER"
		case s.KindFloat:
			return "REAL"
		case s.KindBoolean:
			return "INTEGER"
		case s.KindDateTime:
			return "DATETIME"
		case s.KindBytes:
			return "BLOB"
		default: // string, enum, decimal (exact text), json
			return "TEXT"
		}
	case "postgres":
		switch def.Kind {
		case s.KindInt:
			if autoID {
				return "SERIAL"
			}
			return "INTEGER"
		case s.KindBigInt:
			if autoID {
				return "BIGSERIAL"
			}
			return "BIGINT"
		case s.KindFloat:
			return "DOUBLE PRECISION"
		case s.KindDecimal:
			if def.Precision > 0 {
				return "NUMERIC(" + strconv.Itoa(def.Precision) + "," + strconv.Itoa(def.Scale) + ")"
			}
			return "NUMERIC"
		case s.KindBoolean:
			return "BOOLEAN"
		case s.KindDateTime:
			return "TIMESTAMPTZ(6)"
		case s.KindJSON:
			return "JSONB"
		case s.KindBytes:
			return "BYTEA"
		default:
			return "TEXT"
		}
	default: // mysql
		switch def.Kind {
		case s.KindInt:
			if autoID {
				return "INT AUTO_INCREMENT"
			}
			return "INT"
		case s.KindBigInt:
			if autoID {
				return "BIGINT AUTO_INCREMENT"
			}
			return "BIGINT"
		case s.KindFloat:
			return "DOUBLE"
		case s.KindDecimal:
			p, sc := def.Precision, def.Scale
			if p == 0 {
				p, sc = 30, 10
			}
			return "DECIMAL(" + strconv.Itoa(p) + "," + strconv.Itoa(sc) + ")"
		case s.KindBoolean:
			return "BOOLEAN"
		case s.KindDateTime:
			return "DATETIME(6)"
		case s.KindJSON:
			return "LONGTEXT"
		case s.KindBytes:
			return "LONGBLOB"
		default:
			return "VARCHAR(191)"
		}
	}
}

// ColumnsSQL returns a query that lists the column names of the table named
// by its one argument, in the current schema or database; no rows means
// there is no such table.
func (d *Dialect) ColumnsSQL() string {
	switch d.Name {
	case "sqlite":
		return "SELECT name FROM pragma_table_info(?)"
	case "postgres":
		return "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1"
	default:
		return "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?"
	}
}

// UpsertAnyKey reports that the dialect's native upsert (MySQL's ON
// DUPLICATE KEY UPDATE) fires on a conflict with any unique key, not only the
// one named, and cannot return the row: the caller must make sure no other
// key can conflict and read the row back.
func (d *Dialect) UpsertAnyKey() bool { return d.Name == "mysql" }

// AppendUpsert appends the clause that turns an INSERT into an upsert on
// the unique key made of the columns key, up to the first assignment:
// " ON CONFLICT (k) DO UPDATE SET " or " ON DUPLICATE KEY UPDATE ".
func (d *Dialect) AppendUpsert(b []byte, key []string) []byte {
	if d.UpsertAnyKey() {
		return append(b, " ON DUPLICATE KEY UPDATE "...)
	}
	b = append(b, " ON CONFLICT ("...)
	for i, k := range key {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = d.AppendIdent(b, k)
	}
	return append(b, ") DO UPDATE SET "...)
}

// AppendExisting appends a reference to column col of the existing row in
// an upsert's assignments: qualified by the table where the proposed row
// is in scope too (ON CONFLICT), bare on MySQL.
func (d *Dialect) AppendExisting(b []byte, table, col string) []byte {
	if !d.UpsertAnyKey() {
		b = append(d.AppendIdent(b, table), '.')
	}
	return d.AppendIdent(b, col)
}

// IntDiv returns the operator of integer division when '/' is not one
// ("DIV" on MySQL, where '/' gives a decimal), or "".
func (d *Dialect) IntDiv() string {
	if d.Name == "mysql" {
		return "DIV"
	}
	return ""
}
