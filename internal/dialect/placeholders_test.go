package dialect

import (
	"strconv"
	"strings"
	"testing"
)

func TestRewritePlaceholdersSkipsLiteralsAndBodies(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		n       int
	}{
		{"SELECT ?", "SELECT $1", 1},
		{"SELECT $$?$$, ?", "SELECT $$?$$, $1", 1},
		{"SELECT $fn$ ? $x$ ? $fn$, ?", "SELECT $fn$ ? $x$ ? $fn$, $1", 1},
		{`SELECT E'\'?', ?`, `SELECT E'\'?', $1`, 1},
		{`SELECT e'\\', ?`, `SELECT e'\\', $1`, 1},
		{`SELECT '\', ?`, `SELECT '\', $1`, 1}, // standard strings: backslash is plain
		{"SELECT 'it''s ?', \"a?\", ?", "SELECT 'it''s ?', \"a?\", $1", 1},
		{"SELECT ? -- ?\n, ? /* ? /* ? */ ? */ , ?", "SELECT $1 -- ?\n, $2 /* ? /* ? */ ? */ , $3", 3},
		{"SELECT a$b, $1, ?", "SELECT a$b, $1, $1", 1},
		{"SELECT x ?? 'k', ?", "SELECT x ? 'k', $1", 1},
		{"SELECT $$ unterminated ?", "SELECT $$ unterminated ?", 0},
		{"SELECT E'?' || ?", "SELECT E'?' || $1", 1},
		{"SELECT tablE'?'", "SELECT tablE'?'", 0},
	} {
		out, n := RewritePlaceholders(tc.in)
		if out != tc.out || n != tc.n {
			t.Errorf("%q → %q, %d; want %q, %d", tc.in, out, n, tc.out, tc.n)
		}
	}
}

// refRewrite is a reference scanner written independently of
// RewritePlaceholders: one byte at a time through explicit states.
func refRewrite(q string) (string, int) {
	const (
		code = iota
		str
		estr
		ident
		dollar
		line
		block
	)
	state, depth, n := code, 0, 0
	tag := ""
	var out strings.Builder
	isID := func(c byte) bool {
		return c == '_' || c == '$' || c >= 0x80 || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		next := byte(0)
		if i+1 < len(q) {
			next = q[i+1]
		}
		prevID := i > 0 && isID(q[i-1])
		switch state {
		case code:
			switch {
			case c == '\'':
				state = str
			case (c == 'e' || c == 'E') && next == '\'' && !prevID:
				out.WriteByte(c)
				i++
				c = '\''
				state = estr
			case c == '"':
				state = ident
			case c == '-' && next == '-':
				state = line
			case c == '/' && next == '*':
				out.WriteString("/*")
				i++
				state, depth = block, 1
				continue
			case c == '$' && !prevID && !(next >= '0' && next <= '9'):
				j := i + 1
				for j < len(q) && q[j] != '$' && isID(q[j]) {
					j++
				}
				if j < len(q) && q[j] == '$' {
					tag = q[i : j+1]
					out.WriteString(tag)
					i = j
					state = dollar
					continue
				}
			case c == '?' && next == '?':
				out.WriteByte('?')
				i++
				continue
			case c == '?':
				n++
				out.WriteString("$" + strconv.Itoa(n))
				continue
			}
		case str, ident:
			quote := byte('\'')
			if state == ident {
				quote = '"'
			}
			if c == quote {
				if next == quote {
					out.WriteByte(c)
					i++
				} else {
					state = code
				}
			}
		case estr:
			if c == '\\' && i+1 < len(q) {
				out.WriteByte(c)
				i++
				c = q[i]
			} else if c == '\'' {
				if next == '\'' {
					out.WriteByte(c)
					i++
				} else {
					state = code
				}
			}
		case dollar:
			if strings.HasPrefix(q[i:], tag) {
				out.WriteString(tag)
				i += len(tag) - 1
				state = code
				continue
			}
		case line:
			if c == '\n' {
				state = code
			}
		case block:
			if c == '/' && next == '*' {
				out.WriteString("/*")
				i++
				depth++
				continue
			}
			if c == '*' && next == '/' {
				out.WriteString("*/")
				i++
				if depth--; depth == 0 {
					state = code
				}
				continue
			}
		}
		out.WriteByte(c)
	}
	return out.String(), n
}

// FuzzRewritePlaceholders checks RewritePlaceholders against the reference
// scanner: the same placeholders found, the same text out, placeholders
// numbered $1…$n in order, and a query without '?' left as it is.
func FuzzRewritePlaceholders(f *testing.F) {
	for _, s := range []string{"SELECT ?", "SELECT '?', ? -- ?\n, ?", `"a?" /* ? */ ??`, "'unterminated ?", "/*", "--",
		"SELECT $$?$$, ?", `E'\'?' ?`, "$a$ ? $a$ ?", "/* /* ? */ ? */ ?", "x$y$ ? $y$", "$1 ? $", "e'\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		out, n := RewritePlaceholders(q)
		want, wn := refRewrite(q)
		if n != wn || out != want {
			t.Fatalf("%q → %q, %d; reference %q, %d", q, out, n, want, wn)
		}
		if !strings.Contains(q, "?") && out != q {
			t.Fatalf("%q changed to %q", q, out)
		}
		for k := n; k >= 1; k-- {
			if !strings.Contains(out, "$"+strconv.Itoa(k)) {
				t.Fatalf("%q → %q: no $%d", q, out, k)
			}
		}
	})
}
