package exec_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/query"
)

// FuzzDecodeCached feeds arbitrary bytes to the strict decoders of cached
// counts, booleans, aggregates and groups: they never panic, and what they
// accept encodes back to a form that decodes to the same result.
func FuzzDecodeCached(f *testing.F) {
	for _, s := range []string{`"i3"`, `true`, `{"_count":{"_all":"i2"},"_sum":{"stock":"i5"},"_max":{"slug":"sb"}}`,
		`[{"by":{"slug":"sa"},"a":{"_count":{"_all":"i1"},"_sum":{"stock":null},"_max":{"slug":"sa"}}}]`, `{"_count":{"_all":"i-1"}}`, `[]`} {
		f.Add([]byte(s))
	}
	agg, gb := aggQueries(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		fuzzOne(t, &exec.CountRead, &query.Query{}, raw)
		fuzzOne(t, &exec.ExistRead, &query.Query{}, raw)
		fuzzOne(t, &exec.AggregateRead, agg, raw)
		fuzzOne(t, &exec.GroupByRead, gb, raw)
	})
}

func fuzzOne[R any](t *testing.T, spec *exec.Spec[R], q *query.Query, raw []byte) {
	v, err := spec.Decode(md, q, raw)
	if err != nil {
		return
	}
	again, err := json.Marshal(exec.Payload{Kind: spec.Kind, MD: md, Q: q, V: v})
	if err != nil {
		t.Fatalf("%s decoded to %#v, which does not encode: %v", raw, v, err)
	}
	back, err := spec.Decode(md, q, again)
	if err != nil || !reflect.DeepEqual(back, v) {
		t.Fatalf("%s → %#v → %s → %#v, %v", raw, v, again, back, err)
	}
}
