package exec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/query"
)

// TestDecodedRowsDoNotAliasTheCachedBytes guards what Payload.UnmarshalJSON
// relies on when it keeps the cache's bytes without copying them: the rows
// decoded from them share no memory with them. The bytes may be held by a
// two-tier cache's L1 for other readers, and a caller may write into a
// []byte field of its rows.
func TestDecodedRowsDoNotAliasTheCachedBytes(t *testing.T) {
	ctx := context.Background()
	c := newConn(t)
	if _, err := exec.CreateMany(ctx, c, md, [][]query.Set{
		{set("slug", "alpha"), set("stock", int64(7)), set("blob", []byte("blob-bytes"))},
		{set("slug", "beta"), set("blob", []byte{0, 1, 2})},
	}); err != nil {
		t.Fatal(err)
	}
	spec := exec.RowsRead[item]()
	q := &query.Query{Sel: md.Fields}
	v, err := exec.Load(ctx, c, c.db, md, q, false, &spec)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(exec.Payload{Kind: spec.Kind, MD: md, Q: q, V: v})
	if err != nil {
		t.Fatal(err)
	}
	var p exec.Payload
	if err := p.UnmarshalJSON(raw); err != nil {
		t.Fatal(err)
	}
	got, err := spec.Decode(md, q, p.Raw)
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("decoded %#v, %v; want %#v", got, err, v)
	}
	for i := range raw {
		raw[i] = 'X'
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("overwriting the cached bytes changed the decoded rows: %#v, want %#v", got, v)
	}
	for _, r := range got {
		for i := range r.Blob {
			r.Blob[i] = 'Y'
		}
	}
	if bytes.Contains(raw, []byte("Y")) {
		t.Fatal("writing into a decoded []byte changed the cached bytes")
	}
}
