package dialect

import (
	"strconv"
	"strings"
)

// RewritePlaceholders rewrites the '?' placeholders of a PostgreSQL query to
// $1, $2, … and returns how many it found. A '?' inside a string constant
// ('…', E'…' with backslash escapes), a quoted identifier ("…"), a
// dollar-quoted body ($$…$$, $tag$…$tag$) or a comment (-- …, nested /* … */)
// is left alone; "??" outside them stands for a literal '?'. An unterminated
// literal, identifier, body or comment runs to the end of the query.
func RewritePlaceholders(q string) (string, int) {
	if !strings.Contains(q, "?") {
		return q, 0
	}
	b := make([]byte, 0, len(q)+8)
	n := 0
	for i := 0; i < len(q); {
		c := q[i]
		var end int // the end of a token copied as it is
		switch {
		case c == '\'':
			end = quotedEnd(q, i, '\'', false)
		case (c == 'E' || c == 'e') && i+1 < len(q) && q[i+1] == '\'' && !identByteBefore(q, i):
			end = quotedEnd(q, i+1, '\'', true)
		case c == '"':
			end = quotedEnd(q, i, '"', false)
		case c == '$' && !identByteBefore(q, i):
			end = dollarEnd(q, i)
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			end = len(q)
			if j := strings.IndexByte(q[i:], '\n'); j >= 0 {
				end = i + j + 1
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			end = commentEnd(q, i)
		case c == '?' && i+1 < len(q) && q[i+1] == '?':
			b = append(b, '?')
			i += 2
			continue
		case c == '?':
			n++
			b = strconv.AppendInt(append(b, '$'), int64(n), 10)
			i++
			continue
		}
		if end > i {
			b = append(b, q[i:end]...)
			i = end
			continue
		}
		b = append(b, c)
		i++
	}
	return string(b), n
}

// isIdentByte reports whether c can continue an identifier (or a keyword,
// or a positional parameter such as $1).
func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func identByteBefore(q string, i int) bool { return i > 0 && isIdentByte(q[i-1]) }

// quotedEnd returns the end of the literal whose opening quote is at q[i]: a
// doubled quote is part of it, and so is any byte after a backslash when
// backslash is set.
func quotedEnd(q string, i int, quote byte, backslash bool) int {
	for j := i + 1; j < len(q); j++ {
		switch q[j] {
		case '\\':
			if backslash {
				j++
			}
		case quote:
			if j+1 < len(q) && q[j+1] == quote {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(q)
}

// dollarEnd returns the end of the dollar-quoted body starting at q[i], or i
// when q[i] does not open one ($1 is a parameter, a lone $ an operator).
func dollarEnd(q string, i int) int {
	j := i + 1
	if j < len(q) && '0' <= q[j] && q[j] <= '9' {
		return i
	}
	for j < len(q) && q[j] != '$' && isIdentByte(q[j]) {
		j++
	}
	if j >= len(q) || q[j] != '$' {
		return i
	}
	tag := q[i : j+1]
	if k := strings.Index(q[j+1:], tag); k >= 0 {
		return j + 1 + k + len(tag)
	}
	return len(q)
}

// commentEnd returns the end of the block comment starting at q[i]; block
// comments nest in PostgreSQL.
func commentEnd(q string, i int) int {
	depth := 0
	for j := i; j+1 < len(q); j++ {
		switch {
		case q[j] == '/' && q[j+1] == '*':
			depth++
			j++
		case q[j] == '*' && q[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(q)
}
