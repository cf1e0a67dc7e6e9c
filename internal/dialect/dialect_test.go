package dialect

import "testing"

func TestQuotingNeverReadsAsALiteral(t *testing.T) {
	for _, tc := range []struct {
		d    *Dialect
		name string
		want string
	}{
		{SQLite, "slug", "`slug`"},
		{SQLite, "a`b", "`a``b`"},
		{SQLite, `a"b`, "`a\"b`"},
		{Postgres, `a"b`, `"a""b"`},
		{MySQL, "a`b", "`a``b`"},
	} {
		if got := tc.d.Quote(tc.name); got != tc.want {
			t.Errorf("%s.Quote(%q) = %s, want %s", tc.d.Name, tc.name, got, tc.want)
		}
	}
}

func TestUpsertClauses(t *testing.T) {
	key := []string{"ns", "name"}
	for _, tc := range []struct {
		d              *Dialect
		clause, exists string
	}{
		{SQLite, " ON CONFLICT (`ns`, `name`) DO UPDATE SET ", "`t`.`c`"},
		{Postgres, ` ON CONFLICT ("ns", "name") DO UPDATE SET `, `"t"."c"`},
		{MySQL, " ON DUPLICATE KEY UPDATE ", "`c`"},
	} {
		if got := string(tc.d.AppendUpsert(nil, key)); got != tc.clause {
			t.Errorf("%s upsert clause %q, want %q", tc.d.Name, got, tc.clause)
		}
		if got := string(tc.d.AppendExisting(nil, "t", "c")); got != tc.exists {
			t.Errorf("%s existing column %q, want %q", tc.d.Name, got, tc.exists)
		}
		if tc.d.UpsertAnyKey() != (tc.d == MySQL) {
			t.Errorf("%s UpsertAnyKey = %v", tc.d.Name, tc.d.UpsertAnyKey())
		}
	}
}
