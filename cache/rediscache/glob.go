package rediscache

import "strings"

// globEscaper escapes the bytes Redis's glob matcher (used by SCAN MATCH and
// KEYS) treats specially, so that a prefix matches only itself.
var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)

// MatchPrefix returns the SCAN MATCH pattern that matches exactly the keys
// starting with prefix: prefix with * ? [ ] and \ escaped, then "*".
func MatchPrefix(prefix string) string { return globEscaper.Replace(prefix) + "*" }
