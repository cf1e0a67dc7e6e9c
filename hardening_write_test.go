package viborm_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/s"
)

// hungDriver is a cache driver whose Delete and Clear never answer on their
// own: they return only when their context ends or the test releases them.
// Get misses and Set succeeds. It does not claim to honour its context, so
// the cache calls it on a goroutine of its own.
type hungDriver struct {
	release chan struct{}
	calls   atomic.Int64
}

func (d *hungDriver) Name() string { return "hung" }
func (d *hungDriver) Get(context.Context, string) (cache.Entry, bool, error) {
	return cache.Entry{}, false, nil
}
func (d *hungDriver) Set(context.Context, string, time.Duration, cache.Entry) error { return nil }
func (d *hungDriver) Delete(ctx context.Context, _ []string) error                  { return d.hang(ctx) }
func (d *hungDriver) Clear(ctx context.Context, _ string) error                     { return d.hang(ctx) }
func (d *hungDriver) hang(ctx context.Context) error {
	d.calls.Add(1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-d.release:
		return errors.New("released")
	}
}

// downDriver fails every invalidation at once.
type downDriver struct{ hungDriver }

func (d *downDriver) Delete(context.Context, []string) error { return errors.New("down") }
func (d *downDriver) Clear(context.Context, string) error    { return errors.New("down") }

var Notes = viborm.Model[viborm.Row]("note",
	s.BigInt("id").ID().Autoincrement(),
	s.String("title"),
	s.Table("notes"),
)

// TestWriteNotHeldByHungInvalidation: a Create whose post-commit
// invalidation hits a cache that never answers returns success within the
// invalidation timeout (under a 300 ms context), the rest is handed to the
// background retry, and Close returns, reporting the abandoned retry.
func TestWriteNotHeldByHungInvalidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hd := &hungDriver{release: make(chan struct{})}
		kv, err := cache.New(hd, &cache.Options{Timeout: 250 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		drv := openSQLite(t, ":memory:")
		var reported atomic.Int64
		db, err := viborm.NewClient(viborm.Config{Driver: drv, Models: []viborm.AnyModel{Notes}, Cache: kv,
			AutoInvalidate: true, OnInvalidateError: func(error) { reported.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		released := false
		defer func() { // on failure, unblock the bubble so that it can end
			if !released {
				close(hd.release)
			}
			db.Close()
		}()
		if _, err := db.Push(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		type res struct {
			err     error
			elapsed time.Duration
		}
		done := make(chan res, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := Notes.Create(ctx, db, viborm.Create{Data: viborm.Data{"title": "a"}})
			done <- res{err, time.Since(start)}
		}()
		time.Sleep(time.Second) // fake time: every timer up to 1 s fires
		synctest.Wait()
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("Create under a hung cache: %v", r.err)
			}
			if r.elapsed > 300*time.Millisecond {
				t.Fatalf("Create took %v (fake time), want at most the 250ms invalidation timeout", r.elapsed)
			}
		default:
			t.Fatal("Create is still blocked on the hung cache after 1s")
		}
		closed := make(chan error, 1)
		go func() { closed <- db.Close() }()
		synctest.Wait()
		select {
		case <-closed:
		default:
			t.Fatal("Close is blocked")
		}
		close(hd.release)
		released = true
		if reported.Load() != 1 {
			t.Fatalf("OnInvalidateError called %d times, want 1 (the retry abandoned by Close)", reported.Load())
		}
	})
}

// TestOperationsAfterCloseFailWithErrClosed: every operation after Close
// fails with ErrClosed, not a database error.
func TestOperationsAfterCloseFailWithErrClosed(t *testing.T) {
	ctx := context.Background()
	db := newClient(t, "sqlite", viborm.Config{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Users.Create(ctx, db, viborm.Create{Data: viborm.Data{"email": "a@x"}})
	checkClosed(t, "create", err)
	_, err = Users.FindMany(ctx, db, viborm.FindMany{})
	checkClosed(t, "findMany", err)
	_, err = Users.Upsert(ctx, db, viborm.Upsert{Where: viborm.Where{"email": "a@x"}, Create: viborm.Data{"email": "a@x"}})
	checkClosed(t, "upsert", err)
	_, err = db.QueryRaw(ctx, "SELECT 1")
	checkClosed(t, "queryRaw", err)
	err = db.Tx(ctx, func(*viborm.Tx) error { return nil }, nil)
	checkClosed(t, "tx", err)
	_, err = db.Push(ctx, nil)
	checkClosed(t, "push", err)
}

func checkClosed(t *testing.T, op string, err error) {
	t.Helper()
	var e *viborm.Error
	if !errors.Is(err, viborm.ErrClosed) || !errors.As(err, &e) || e.Code != viborm.CodeClosed {
		t.Errorf("%s after Close: %v, want ErrClosed", op, err)
	}
}

// TestCommitRacingCloseStartsNoBackgroundWork: a transaction that commits
// while Close runs must not hand out background work (the invalidation
// retry) after Close returned; the failed invalidation is reported instead.
func TestCommitRacingCloseStartsNoBackgroundWork(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	closed, late := false, 0
	var reported atomic.Int64
	kv, err := cache.New(&downDriver{}, &cache.Options{
		WaitUntil: func(ctx context.Context, task func(context.Context)) {
			mu.Lock()
			if closed {
				late++
			}
			mu.Unlock()
			task(ctx)
		}})
	if err != nil {
		t.Fatal(err)
	}
	db := newClient(t, "sqlite", viborm.Config{Cache: kv, AutoInvalidate: true,
		InvalidateRetry:   time.Millisecond,
		OnInvalidateError: func(error) { reported.Add(1) },
	})
	err = db.Tx(ctx, func(tx *viborm.Tx) error {
		if _, err := Users.Create(ctx, tx, viborm.Create{Data: viborm.Data{"email": "a@x"}}); err != nil {
			return err
		}
		if err := db.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		mu.Lock()
		closed = true
		mu.Unlock()
		return nil
	}, nil)
	if err != nil {
		t.Fatalf("tx: %v", err)
	}
	if late != 0 {
		t.Fatalf("%d background tasks started after Close returned", late)
	}
	if reported.Load() != 1 {
		t.Fatalf("OnInvalidateError called %d times, want 1", reported.Load())
	}
}

// TestSQLiteConcurrentUpdatesNeverBusy: two goroutines updating one row of a
// file database opened with sqlite.Open never fail with SQLITE_BUSY.
func TestSQLiteConcurrentUpdatesNeverBusy(t *testing.T) {
	ctx := context.Background()
	drv := openSQLite(t, filepath.Join(t.TempDir(), "busy.db"))
	db := openClient(t, viborm.Config{Driver: drv, Models: allModels})
	u := mustCreateUser(t, db, viborm.Data{"email": "a@x"})
	const workers, iters = 2, 200
	var failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range iters {
				_, err := Users.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": u.ID}, Data: viborm.Data{"age": viborm.Increment(1)}})
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d updates failed; first: %v", n, workers*iters, first.Load())
	}
	got, err := Users.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"id": u.ID}})
	if err != nil || got.Age != workers*iters {
		t.Fatalf("age = %d (%v), want %d", got.Age, err, workers*iters)
	}
}

type sluggedNote struct {
	ID    int64
	Title string
	Slug  *string
}

// TestSQLiteDriftedSchemaNeverAnswersWrong: a model field that the table
// lacks makes reads fail with a schema error naming the column, never return
// the column's name as its value; the opt-in check and Push name it too.
func TestSQLiteDriftedSchemaNeverAnswersWrong(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "drift.db")
	drv := openSQLite(t, path)
	old, err := viborm.NewClient(viborm.Config{Driver: drv, Models: []viborm.AnyModel{Notes}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Push(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{"a", "b"} {
		if _, err := Notes.Create(ctx, old, viborm.Create{Data: viborm.Data{"title": title}}); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	slugged := viborm.Model[sluggedNote]("note", s.BigInt("id").ID().Autoincrement(), s.String("title"),
		s.String("slug").Nullable(), s.Table("notes"))
	drv = openSQLite(t, path)
	db, err := viborm.NewClient(viborm.Config{Driver: drv, Models: []viborm.AnyModel{slugged}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := slugged.FindMany(ctx, db, viborm.FindMany{})
	if err == nil {
		t.Fatalf("FindMany on a drifted table answered %d rows (slug %v), want a schema error", len(rows), rows[0].Slug)
	}
	checkDrift(t, "findMany", err)
	n, err := slugged.Count(ctx, db, viborm.Count{Where: viborm.Where{"slug": "slug"}})
	if err == nil {
		t.Fatalf("Count(slug = 'slug') on a drifted table = %d, want a schema error", n)
	}
	checkDrift(t, "count", err)
	_, err = viborm.NewClient(viborm.Config{Driver: sqlite.FromDB(drv.DB()), Models: []viborm.AnyModel{slugged}, CheckSchema: true})
	checkDrift(t, "NewClient with CheckSchema", err)
	_, err = db.Push(ctx, nil)
	checkDrift(t, "push", err)
}

func checkDrift(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, viborm.ErrSchema) || !strings.Contains(err.Error(), "slug") {
		t.Errorf("%s: %v, want ErrSchema naming the column slug", what, err)
	}
}

type counter struct {
	ID   int64
	Key  string
	Hits int
}

var Counters = viborm.Model[counter]("counter",
	s.BigInt("id").ID().Autoincrement(),
	s.String("key").Unique(),
	s.Int("hits").Default(0),
	s.Table("counters"),
)

// TestConcurrentUpsertsOfOneKey: 64 concurrent upserts of one key on each
// dialect all succeed and leave one row that counts them.
func TestConcurrentUpsertsOfOneKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		var drv viborm.Driver
		if dialect == "sqlite" {
			drv = openSQLite(t, filepath.Join(t.TempDir(), "upsert.db"))
		} else {
			drv = openDriver(t, dialect)
		}
		db := openClient(t, viborm.Config{Driver: drv, Models: []viborm.AnyModel{Counters}})
		const n = 64
		var failed atomic.Int64
		var first atomic.Value
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				c, err := Counters.Upsert(ctx, db, viborm.Upsert{Where: viborm.Where{"key": "k"},
					Create: viborm.Data{"key": "k", "hits": 1}, Update: viborm.Data{"hits": viborm.Increment(1)}})
				if err == nil && (c.Key != "k" || c.Hits < 1 || c.ID == 0) {
					err = errors.New("wrong row returned")
				}
				if err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err.Error())
				}
			})
		}
		close(start)
		wg.Wait()
		if f := failed.Load(); f != 0 {
			t.Fatalf("%d of %d upserts failed; first: %v", f, n, first.Load())
		}
		all, err := Counters.FindMany(ctx, db, viborm.FindMany{})
		if err != nil || len(all) != 1 || all[0].Hits != n {
			t.Fatalf("rows %+v (%v), want one row with %d hits", all, err, n)
		}
		// An empty update leaves the row as it is and still returns it.
		c, err := Counters.Upsert(ctx, db, viborm.Upsert{Where: viborm.Where{"key": "k"}, Create: viborm.Data{"key": "k"}})
		if err != nil || c.Hits != n || c.ID != all[0].ID {
			t.Fatalf("empty update: %+v %v", c, err)
		}
	})
}

// TestUpsertNeverTouchesARowOfAnotherKey: an upsert whose created row would
// collide with another row on a different unique key fails with a unique
// violation and leaves that row alone (MySQL's ON DUPLICATE KEY UPDATE would
// update it, so MySQL takes the locking path for such an upsert).
func TestUpsertNeverTouchesARowOfAnotherKey(t *testing.T) {
	forEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := newClient(t, dialect, viborm.Config{})
		other := mustCreateUser(t, db, viborm.Data{"email": "taken@x", "age": 7})
		_, err := Users.Upsert(ctx, db, viborm.Upsert{Where: viborm.Where{"id": other.ID + 100},
			Create: viborm.Data{"id": other.ID + 100, "email": "taken@x"}, Update: viborm.Data{"age": 99}})
		if !errors.Is(err, viborm.ErrUniqueViolation) {
			t.Fatalf("upsert colliding on email: %v, want ErrUniqueViolation", err)
		}
		got, err := Users.FindUniqueOrErr(ctx, db, viborm.FindUnique{Where: viborm.Where{"email": "taken@x"}})
		if err != nil || got.ID != other.ID || got.Age != 7 {
			t.Fatalf("the other row changed: %+v %v", got, err)
		}
		// The native path on the id: an update of the existing row.
		u, err := Users.Upsert(ctx, db, viborm.Upsert{Where: viborm.Where{"id": other.ID},
			Create: viborm.Data{"id": other.ID, "email": "new@x"}, Update: viborm.Data{"age": viborm.Multiply(2)}})
		if err != nil || u.ID != other.ID || u.Email != "taken@x" || u.Age != 14 {
			t.Fatalf("upsert by id: %+v %v", u, err)
		}
	})
}
