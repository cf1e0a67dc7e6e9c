package upstashcache_test

import (
	"errors"
	"testing"

	"github.com/viborm/viborm-go/cache/upstashcache"
)

// FuzzDecodeResponse feeds arbitrary replies to the decoders: they never
// panic, and every failure is an APIError or a protocol error.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{
		`{"result":"OK"}`, `{"result":null}`, `{"error":"ERR x"}`, `{"result":["0",["a"]]}`,
		`[{"result":1},{"error":"e"}]`, `{}`, `null`, `[`, `{"result":`, `{"error":null}`, `{"error":5}`,
	} {
		for _, status := range []int{200, 400, 401, 500} {
			f.Add(status, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		res, err := upstashcache.DecodeResponse(status, body)
		if err != nil {
			if res != nil {
				t.Errorf("result %q with error %v", res, err)
			}
			if !errors.Is(err, upstashcache.ErrAPI) && !errors.Is(err, upstashcache.ErrProtocol) {
				t.Errorf("untyped error %v", err)
			}
		} else if status < 200 || status > 299 {
			t.Errorf("status %d decoded without error", status)
		}
		results, errs, err := upstashcache.DecodePipeline(status, body, 2)
		if err == nil && (len(results) != 2 || len(errs) != 2) {
			t.Errorf("pipeline: %d results, %d errors for 2 commands", len(results), len(errs))
		}
	})
}
