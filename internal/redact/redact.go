// Package redact elides literal values from SQL text and database error
// messages, so that what VibORM logs and traces without being asked cannot
// hold argument values.
package redact

import "strings"

// SQL returns query with every literal value replaced by '?': strings in
// single quotes (with ” escapes, and E'…' backslash escapes), numbers that
// are not part of an identifier, and dollar-quoted strings ($$…$$,
// $tag$…$tag$). Identifiers (bare, "quoted" or `quoted`), keywords,
// placeholders (?, $1, :name, @p1) and comments' absence are kept. An
// unterminated literal is elided to the end.
func SQL(query string) string { return elide(query, false) }

// Message returns a database error message with its quoted parts ('…',
// "…", `…`) and numbers elided: messages such as MySQL's "Duplicate entry
// 'alice@example.com' for key 'email'" quote the offending value.
func Message(msg string) string { return elide(msg, true) }

func isIdent(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b >= 0x80
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func elide(s string, quotes bool) string {
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\'' || quotes && (c == '"' || c == '`'):
			backslash := c == '\'' && i > 0 && (s[i-1] == 'E' || s[i-1] == 'e') && (i < 2 || !isIdent(s[i-2]))
			if quotes {
				backslash = true
			}
			j := i + 1
			for j < len(s) {
				if backslash && s[j] == '\\' && j+1 < len(s) {
					j += 2
					continue
				}
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c { // doubled quote
						j += 2
						continue
					}
					j++
					break
				}
				j++
			}
			sb.WriteByte('?')
			i = j
		case c == '$' && i+1 < len(s) && !isDigit(s[i+1]) && (i == 0 || !isIdent(s[i-1])):
			// A dollar quote opens with $tag$ where tag is an identifier
			// (possibly empty).
			j := i + 1
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			if j >= len(s) || s[j] != '$' {
				sb.WriteString(s[i:j])
				i = j
				continue
			}
			tag := s[i : j+1]
			end := strings.Index(s[j+1:], tag)
			if end < 0 {
				i = len(s)
			} else {
				i = j + 1 + end + len(tag)
			}
			sb.WriteByte('?')
		case c == '$' || c == '?' || c == ':' || c == '@':
			// A placeholder: keep it with its name or number.
			j := i + 1
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			sb.WriteString(s[i:j])
			i = j
		case isIdent(c) && !isDigit(c):
			j := i + 1
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			sb.WriteString(s[i:j])
			i = j
		case isDigit(c) || c == '.' && i+1 < len(s) && isDigit(s[i+1]):
			j := i + 1
			for j < len(s) && (isIdent(s[j]) || s[j] == '.' || (s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			sb.WriteByte('?')
			i = j
		default:
			sb.WriteByte(c)
			i++
		}
	}
	return sb.String()
}
