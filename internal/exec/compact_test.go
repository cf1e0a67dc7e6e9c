package exec_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/query"
)

// TestCompactPayloadDecodesAsTheJSONForm writes cached rows in the compact
// form (cache.CompactJSON) and in the JSON form: the read's strict decoder
// takes either, with the same rows, and refuses a compact form of another
// selection.
func TestCompactPayloadDecodesAsTheJSONForm(t *testing.T) {
	ctx := context.Background()
	c := newConn(t)
	if _, err := exec.CreateMany(ctx, c, md, [][]query.Set{
		{set("slug", "alpha"), set("stock", int64(7)), set("blob", []byte("blob-bytes"))},
		{set("slug", "beta \"q\" é")},
	}); err != nil {
		t.Fatal(err)
	}
	spec := exec.RowsRead[item]()
	q := &query.Query{Sel: md.Fields}
	v, err := exec.Load(ctx, c, c.db, md, q, false, &spec)
	if err != nil {
		t.Fatal(err)
	}
	p := exec.Payload{Kind: spec.Kind, MD: md, Q: q, V: v}
	compact, err := p.MarshalCompactJSON()
	if err != nil || !json.Valid(compact) || !strings.HasPrefix(string(compact), `"vbr1:`) {
		t.Fatalf("compact form %s, %v", compact, err)
	}
	long, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range [][]byte{compact, long} {
		got, err := spec.Decode(md, q, raw)
		if err != nil || !reflect.DeepEqual(got, v) {
			t.Errorf("%.40s… decodes to %#v, %v; want %#v", raw, got, err, v)
		}
	}
	narrow := &query.Query{Sel: md.Fields[:2]}
	if got, err := spec.Decode(md, narrow, compact); err == nil {
		t.Errorf("the compact form of every field decoded for a narrower selection: %#v", got)
	}
	// Counts and other payloads keep their JSON form.
	n := exec.Payload{Kind: exec.CountRead.Kind, MD: md, Q: &query.Query{}, V: int64(2)}
	if b, err := n.MarshalCompactJSON(); err != nil || string(b) != `"i2"` {
		t.Errorf("count's compact form = %s, %v; want its JSON form", b, err)
	}
}
