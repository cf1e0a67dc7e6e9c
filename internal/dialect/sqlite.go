package dialect

import (
	"time"

	"github.com/viborm/viborm-go/s"
)

// sqlite is SQLite (modernc.org/sqlite).
type sqlite struct{ base }

// SQLiteTime is how times are stored in SQLite: fixed width, UTC, so that
// text comparison orders them.
const SQLiteTime = "2006-01-02 15:04:05.000000000Z07:00"

func (sqlite) Match(insensitive bool) Match {
	if insensitive {
		return MatchFoldLike // LIKE ignores ASCII case
	}
	return MatchGlob
}

func (d sqlite) Arg(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(SQLiteTime)
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	}
	return d.base.Arg(v)
}

func (sqlite) ColumnType(def s.FieldDef, autoID bool) string {
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
}

func (sqlite) ColumnsSQL() string { return "SELECT name FROM pragma_table_info(?)" }
