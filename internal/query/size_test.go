package query_test

import (
	"testing"
	"unsafe"

	"github.com/viborm/viborm-go/internal/query"
)

// TestQuerySize pins the size of a Query. Every read allocates one, cached
// hits included (the cache key is its encoding), so its size class is paid
// on the hot path of a cached findUnique. The parts a plain read does not
// use (aggregates, cursor, distinct, includes, counts) live behind
// pointers; with them inline the Query was 224 B, the next size class up
// from the 144 B a plain read had before, and a cached hit got measurably
// slower. 96 B is a size class of its own.
func TestQuerySize(t *testing.T) {
	if n := unsafe.Sizeof(query.Query{}); n > 96 {
		t.Errorf("query.Query is %d B, want at most 96 (one is allocated per read, cached hits included)", n)
	}
}
