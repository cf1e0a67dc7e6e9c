package dialect

import (
	"strconv"

	"github.com/viborm/viborm-go/s"
)

// postgres is PostgreSQL (pgx through database/sql).
type postgres struct{ base }

func (postgres) AppendPlaceholder(b []byte, n int) []byte {
	return strconv.AppendInt(append(b, '$'), int64(n), 10)
}

func (postgres) RawSQL(q string) (string, int, bool) {
	out, n := RewritePlaceholders(q)
	return out, n, true
}

func (postgres) Match(insensitive bool) Match {
	if insensitive {
		return MatchILike
	}
	return MatchLike
}

func (postgres) ColumnType(def s.FieldDef, autoID bool) string {
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
}

func (postgres) ColumnsSQL() string {
	return "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1"
}
