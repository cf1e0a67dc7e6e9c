package dialect_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/s"
)

func TestQuotingNeverReadsAsALiteral(t *testing.T) {
	for _, tc := range []struct {
		d    dialect.Dialect
		name string
		want string
	}{
		{dialect.SQLite, "slug", "`slug`"},
		{dialect.SQLite, "a`b", "`a``b`"},
		{dialect.SQLite, `a"b`, "`a\"b`"},
		{dialect.Postgres, `a"b`, `"a""b"`},
		{dialect.MySQL, "a`b", "`a``b`"},
	} {
		if got := string(tc.d.AppendIdent(nil, tc.name)); got != tc.want {
			t.Errorf("%s.AppendIdent(%q) = %s, want %s", tc.d.Name(), tc.name, got, tc.want)
		}
	}
}

func TestUpsertClauses(t *testing.T) {
	key := []string{"ns", "name"}
	for _, tc := range []struct {
		d              dialect.Dialect
		clause, exists string
		anyKey         bool
	}{
		{dialect.SQLite, " ON CONFLICT (`ns`, `name`) DO UPDATE SET ", "`t`.`c`", false},
		{dialect.Postgres, ` ON CONFLICT ("ns", "name") DO UPDATE SET `, `"t"."c"`, false},
		{dialect.MySQL, " ON DUPLICATE KEY UPDATE ", "`c`", true},
	} {
		if got := string(tc.d.AppendUpsert(nil, key)); got != tc.clause {
			t.Errorf("%s upsert clause %q, want %q", tc.d.Name(), got, tc.clause)
		}
		if got := string(tc.d.AppendExisting(nil, "t", "c")); got != tc.exists {
			t.Errorf("%s existing column %q, want %q", tc.d.Name(), got, tc.exists)
		}
		if got := tc.d.Has(dialect.UpsertAnyKey); got != tc.anyKey {
			t.Errorf("%s UpsertAnyKey = %v, want %v", tc.d.Name(), got, tc.anyKey)
		}
	}
}

func TestByNameKnowsTheDriverNames(t *testing.T) {
	for name, want := range map[string]dialect.Dialect{
		"sqlite": dialect.SQLite, "sqlite3": dialect.SQLite, "postgres": dialect.Postgres, "postgresql": dialect.Postgres,
		"pgx": dialect.Postgres, "mysql": dialect.MySQL, "mariadb": dialect.MySQL,
	} {
		if got := dialect.ByName(name); got != want {
			t.Errorf("ByName(%q) = %v, want %v", name, got, want)
		}
	}
	if got := dialect.ByName("oracle"); got != nil {
		t.Errorf("ByName(oracle) = %v, want nil", got)
	}
}

func TestPlaceholdersAndRawSQL(t *testing.T) {
	for _, tc := range []struct {
		d         dialect.Dialect
		ph        string
		raw       string
		n         int
		rewritten bool
	}{
		{dialect.SQLite, "?", "SELECT ? WHERE '?'", 0, false},
		{dialect.MySQL, "?", "SELECT ? WHERE '?'", 0, false},
		{dialect.Postgres, "$3", "SELECT $1 WHERE '?'", 1, true},
	} {
		if got := string(tc.d.AppendPlaceholder(nil, 3)); got != tc.ph {
			t.Errorf("%s placeholder 3 = %q, want %q", tc.d.Name(), got, tc.ph)
		}
		out, n, rw := tc.d.RawSQL("SELECT ? WHERE '?'")
		if out != tc.raw || n != tc.n || rw != tc.rewritten {
			t.Errorf("%s RawSQL = %q, %d, %v; want %q, %d, %v", tc.d.Name(), out, n, rw, tc.raw, tc.n, tc.rewritten)
		}
	}
}

func TestFeaturesAndStrategies(t *testing.T) {
	type want struct {
		returning, nulls, forUpdate, defVals, decText, inlineID, idxInTable bool
		cs, ci                                                              dialect.Match
		maxLimit, intDiv                                                    string
	}
	for _, tc := range []struct {
		d dialect.Dialect
		w want
	}{
		{dialect.SQLite, want{true, true, false, true, true, true, false, dialect.MatchGlob, dialect.MatchFoldLike, "-1", ""}},
		{dialect.Postgres, want{true, true, true, true, false, false, false, dialect.MatchLike, dialect.MatchILike, "", ""}},
		{dialect.MySQL, want{false, false, true, false, false, false, true, dialect.MatchLike, dialect.MatchLowerLike, "18446744073709551615", "DIV"}},
	} {
		d := tc.d
		got := want{d.Has(dialect.Returning), d.Has(dialect.NullsOrdering), d.Has(dialect.ForUpdate), d.Has(dialect.DefaultValues),
			d.Has(dialect.DecimalText), d.Has(dialect.InlineAutoID), d.Has(dialect.IndexInTable), d.Match(false), d.Match(true),
			d.MaxLimit(), d.IntDiv()}
		if got != tc.w {
			t.Errorf("%s: got %+v, want %+v", d.Name(), got, tc.w)
		}
	}
}

func TestArgStoresCanonicalValues(t *testing.T) {
	at := time.Date(2024, 2, 3, 4, 5, 6, 7000, time.FixedZone("x", 3600))
	for _, tc := range []struct {
		d    dialect.Dialect
		in   any
		want any
	}{
		{dialect.SQLite, at, "2024-02-03 03:05:06.000007000Z"},
		{dialect.SQLite, true, int64(1)},
		{dialect.SQLite, false, int64(0)},
		{dialect.SQLite, json.RawMessage(`{"a":1}`), `{"a":1}`},
		{dialect.Postgres, at, at.UTC()},
		{dialect.Postgres, true, true},
		{dialect.MySQL, json.RawMessage(`[1]`), `[1]`},
		{dialect.MySQL, int64(5), int64(5)},
	} {
		if got := tc.d.Arg(tc.in); got != tc.want {
			t.Errorf("%s.Arg(%v) = %#v, want %#v", tc.d.Name(), tc.in, got, tc.want)
		}
	}
}

func TestColumnTypes(t *testing.T) {
	dec := s.FieldDef{Kind: s.KindDecimal, Precision: 10, Scale: 2}
	for _, tc := range []struct {
		d      dialect.Dialect
		def    s.FieldDef
		autoID bool
		want   string
	}{
		{dialect.SQLite, s.FieldDef{Kind: s.KindBigInt}, true, "INTEGER PRIMARY KEY AUTOINCREMENT"},
		{dialect.SQLite, dec, false, "TEXT"},
		{dialect.Postgres, s.FieldDef{Kind: s.KindInt}, true, "SERIAL"},
		{dialect.Postgres, dec, false, "NUMERIC(10,2)"},
		{dialect.Postgres, s.FieldDef{Kind: s.KindDateTime}, false, "TIMESTAMPTZ(6)"},
		{dialect.MySQL, s.FieldDef{Kind: s.KindDecimal}, false, "DECIMAL(30,10)"},
		{dialect.MySQL, s.FieldDef{Kind: s.KindString}, false, "VARCHAR(191)"},
		{dialect.MySQL, s.FieldDef{Kind: s.KindBigInt}, true, "BIGINT AUTO_INCREMENT"},
	} {
		if got := tc.d.ColumnType(tc.def, tc.autoID); got != tc.want {
			t.Errorf("%s column type of %v = %q, want %q", tc.d.Name(), tc.def.Kind, got, tc.want)
		}
	}
}
