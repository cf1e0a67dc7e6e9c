package depscheck

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// FillAcrossInvalidation starts a load of key in p whose loader blocks
// once p holds the key's lease, then invalidates, in a, key or, when
// byModel is set, the model "user"; it then lets the load end and closes
// p, which waits for p's background write. The caller checks afterwards
// that the fill did not land.
func FillAcrossInvalidation(t *testing.T, a, p *cache.Cache, key string, byModel bool) {
	t.Helper()
	started, gate := make(chan struct{}), make(chan struct{})
	done := make(chan string)
	go func() {
		v, _ := cache.Load(context.Background(), p, key, cache.Policy{}, func(context.Context) (string, error) {
			close(started) // the lease is taken
			<-gate
			return "pre-write rows", nil
		})
		done <- v
	}()
	<-started
	var err error
	if byModel {
		err = a.InvalidateModel(context.Background(), "user")
	} else {
		err = a.Invalidate(context.Background(), key)
	}
	if err != nil {
		t.Fatal(err)
	}
	close(gate)
	<-done
	p.Close() // waits for its background write
}

// LoadsOfColdKey has every cache in cs, each standing for one process, load
// the cold key at once, with a loader that takes as long as a query, and
// returns how many loaders ran: with leases, one.
func LoadsOfColdKey(t *testing.T, cs []*cache.Cache, key string) int32 {
	t.Helper()
	var loads atomic.Int32
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			v, err := cache.Load(context.Background(), c, key, cache.Policy{}, func(context.Context) (string, error) {
				loads.Add(1)
				time.Sleep(50 * time.Millisecond) // the query
				return "rows", nil
			})
			if err != nil || v != "rows" {
				t.Errorf("Load = %q, %v", v, err)
			}
		})
	}
	wg.Wait()
	return loads.Load()
}
