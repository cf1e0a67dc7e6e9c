package rediscache

import "github.com/viborm/viborm-go/cache/internal/redisindex"

// MatchPrefix returns the SCAN MATCH pattern that matches exactly the keys
// starting with prefix: prefix with * ? [ ] and \ escaped, then "*".
func MatchPrefix(prefix string) string { return redisindex.MatchPrefix(prefix) }
