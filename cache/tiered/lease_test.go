package tiered_test

import (
	"context"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex/depscheck"
)

// leaseCaches returns n Caches over tiered drivers on the shared Redis, each
// with its own L1 and bus subscription (one channel), each standing for a
// process, in a namespace of the test's own, cleared when t ends.
func leaseCaches(t *testing.T, n int) ([]*cache.Cache, []*instance) {
	t.Helper()
	c := sharedClient(t)
	ch := randomName("viborm-test:bus:")
	version := randomName("lt")
	cs := make([]*cache.Cache, n)
	ins := make([]*instance, n)
	for i := range cs {
		ins[i] = newInstance(t, c, ch, nil, nil)
		ins[i].await(t, "subscribed")
		if !ins[i].OffersLeases() {
			t.Fatal("OffersLeases = false over Redis")
		}
		cc, err := cache.New(noCloseDriver{ins[i].Driver}, &cache.Options{Version: version, LeaseWait: 10 * time.Second, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		cs[i] = cc
	}
	t.Cleanup(func() {
		for _, cc := range cs {
			cc.Close()
		}
		if err := ins[0].Clear(context.Background(), cache.Prefix(version)+":"); err != nil {
			t.Errorf("cleaning up: %v", err)
		}
	})
	return cs, ins
}

// TestFillBeforeOtherInstanceInvalidationNeverLands: a fill that began in
// one instance before another invalidated its key, or its model, lands
// neither in Redis nor in any L1: the tiered driver forwards the leases of
// its L2.
func TestFillBeforeOtherInstanceInvalidationNeverLands(t *testing.T) {
	for _, byModel := range []bool{false, true} {
		cs, ins := leaseCaches(t, 2)
		a, p := cs[0], cs[1]
		key := "user:findMany:a"
		depscheck.FillAcrossInvalidation(t, a, p, key, byModel)
		if n, err := sharedClient(t).Exists(context.Background(), a.FullKey(key)).Result(); err != nil || n != 0 {
			t.Fatalf("by model %v: a fill that began before another instance's invalidation landed in Redis after it (exists %d, %v)", byModel, n, err)
		}
		for i, in := range ins {
			if _, ok := in.GetLocal(a.FullKey(key)); ok {
				t.Fatalf("by model %v: instance %d's L1 serves a fill that began before the invalidation", byModel, i)
			}
		}
	}
}

// TestColdKeyAcrossInstancesLoadsOnce: four instances missing one cold key
// run its loader once, and each then answers it from its L1.
func TestColdKeyAcrossInstancesLoadsOnce(t *testing.T) {
	cs, ins := leaseCaches(t, 4)
	if n := depscheck.LoadsOfColdKey(t, cs, "user:findUnique:cold"); n != 1 {
		t.Fatalf("4 instances missing one cold key ran the loader %d times, want 1", n)
	}
	for i, c := range cs {
		if _, err := cache.Load(context.Background(), c, "user:findUnique:cold", cache.Policy{}, func(context.Context) (string, error) {
			t.Errorf("instance %d loaded a filled key", i)
			return "", nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, ok := ins[i].GetLocal(c.FullKey("user:findUnique:cold")); !ok {
			t.Errorf("instance %d's L1 does not hold the filled key", i)
		}
	}
}
