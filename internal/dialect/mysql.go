package dialect

import (
	"strconv"

	"github.com/viborm/viborm-go/s"
)

// mysql is MySQL and MariaDB (go-sql-driver/mysql).
type mysql struct{ base }

func (mysql) IntDiv() string { return "DIV" }

func (mysql) TableOptions() string {
	return " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
}

func (mysql) ColumnType(def s.FieldDef, autoID bool) string {
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

func (mysql) ColumnsSQL() string {
	return "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?"
}

// AppendUpsert writes ON DUPLICATE KEY UPDATE, which fires on any unique
// key: key is not named.
func (mysql) AppendUpsert(b []byte, _ []string) []byte {
	return append(b, " ON DUPLICATE KEY UPDATE "...)
}

// AppendExisting names the column alone: in ON DUPLICATE KEY UPDATE it is
// the existing row's.
func (d mysql) AppendExisting(b []byte, _, col string) []byte { return d.AppendIdent(b, col) }
