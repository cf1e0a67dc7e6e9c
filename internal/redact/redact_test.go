package redact

import (
	"strings"
	"testing"
)

func TestSQL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT "id", "email" FROM "users" WHERE "email" = $1 LIMIT 10 OFFSET 20`, `SELECT "id", "email" FROM "users" WHERE "email" = $1 LIMIT ? OFFSET ?`},
		{"SELECT `a` FROM `t1` WHERE `b` = ? AND c = 'it''s' AND d = 1.5e-3", "SELECT `a` FROM `t1` WHERE `b` = ? AND c = ? AND d = ?"},
		{`select x from t where y = E'a\'b' and z = $tag$ secret $tag$ and w = $$x$$`, `select x from t where y = E? and z = ? and w = ?`},
		{`SELECT col2 FROM t3 WHERE n IN (1, 2) AND s = 'unterminated`, `SELECT col2 FROM t3 WHERE n IN (?, ?) AND s = ?`},
		{`INSERT INTO t (a) VALUES (:name, @p1, -7)`, `INSERT INTO t (a) VALUES (:name, @p1, -?)`},
	} {
		if got := SQL(tc.in); got != tc.want {
			t.Errorf("SQL(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestMessage(t *testing.T) {
	got := Message(`Error 1062 (23000): Duplicate entry 'alice@example.com' for key "users.email"`)
	want := `Error ? (?): Duplicate entry ? for key ?`
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzSQL checks that no character of a quoted literal survives: every
// secret written inside single quotes is elided, whatever surrounds it.
func FuzzSQL(f *testing.F) {
	f.Add("SELECT a FROM t WHERE b = ", "x", " AND c = 1")
	f.Add("E", "a\\'b", "$$")
	f.Add("", "it''s", "'")
	f.Fuzz(func(t *testing.T, before, secret, after string) {
		if strings.ContainsAny(before, "'\"`$") || strings.ContainsAny(after, "'\"`$") || strings.Contains(secret, "'") {
			return
		}
		const marker = "QQSECRETQQ"
		q := before + " '" + marker + secret + "' " + after
		for _, out := range []string{SQL(q), Message(q)} {
			if strings.Contains(out, marker) {
				t.Fatalf("literal survived: %q -> %q", q, out)
			}
		}
		_ = SQL(before + secret + after) // never panics
		_ = Message(before + secret + after)
	})
}
