package rediscache_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/rediscache"
	"github.com/viborm/viborm-go/cache/rueidiscache"
	"github.com/viborm/viborm-go/cache/tiered"
	"github.com/viborm/viborm-go/internal/testenv"
)

// The multi-process tests re-execute the test binary as writer and reader
// processes sharing the real Redis and PostgreSQL: the child runs the same
// test function, which finds its role in mpRoleEnv and its settings in
// mpConfEnv, and prints its counts as one line starting with mpResultTag.

const (
	mpRoleEnv   = "VIBORM_MP_ROLE"
	mpConfEnv   = "VIBORM_MP_CONF"
	mpResultTag = "VIBORM-MP-RESULT "
	// mpSecondsEnv overrides how long the fence test's load runs, per mode.
	mpSecondsEnv = "VIBORM_MP_SECONDS"
)

// mpConf is what a child process needs.
type mpConf struct {
	Redis    string
	DSN      string
	Table    string
	Version  string // the cache version: a namespace of the run's own
	IndexNS  string // the index prefix: also the run's own
	Fence    bool   // false sets cache.Options.DisableLeases
	Duration time.Duration
	Readers  int           // goroutines of a reader process
	QueryMS  float64       // how long the loader's query takes
	Start    time.Time     // stampede: when round 0 starts
	Rounds   int           // stampede: cold keys, one per round
	Every    time.Duration // stampede: between rounds
	Channel  string        // the tiered roles' bus channel
	TTL      time.Duration // of the readers' cached reads; zero means 2s
	LogTable string        // when set, the writer logs when each version's invalidation returned
}

// mpResult is what a child process reports.
type mpResult struct {
	Reads   int64 `json:"reads"`
	Stale   int64 `json:"stale"`
	MaxLag  int64 `json:"maxLag"`
	Writes  int64 `json:"writes"`
	Queries []int `json:"queries"` // stampede: loader runs per round
	// With conf.LogTable: of the stale reads, how long after the
	// invalidation that made them stale had returned each one returned
	// (nanoseconds): median, 99th percentile and maximum.
	Window50, Window99, WindowMax int64
	Err                           string
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mpSetup returns the shared servers' settings and a database handle, with
// a table of the test's own dropped at the end.
func mpSetup(t *testing.T, table string, create string) (mpConf, *sql.DB) {
	t.Helper()
	conf := mpConf{Redis: testenv.RedisAddr(t), DSN: testenv.PostgresDSN(t), Table: table}
	db, err := sql.Open("pgx", conf.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(fmt.Sprintf(create, table)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP TABLE IF EXISTS " + table); err != nil {
			t.Errorf("dropping %s: %v", table, err)
		}
	})
	return conf, db
}

// mpRun starts one child per role with conf and returns their results.
func mpRun(t *testing.T, test string, conf mpConf, roles []string) []mpResult {
	t.Helper()
	raw, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), conf.Duration+2*time.Minute)
	defer cancel()
	type child struct {
		cmd *exec.Cmd
		out bytes.Buffer
	}
	children := make([]*child, len(roles))
	for i, role := range roles {
		ch := &child{cmd: exec.CommandContext(ctx, os.Args[0], "-test.run", "^"+test+"$", "-test.count=1")}
		ch.cmd.Env = append(os.Environ(), mpRoleEnv+"="+role, mpConfEnv+"="+string(raw))
		ch.cmd.Stdout = &ch.out
		ch.cmd.Stderr = &ch.out
		if err := ch.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children[i] = ch
	}
	results := make([]mpResult, len(roles))
	for i, ch := range children {
		err := ch.cmd.Wait()
		var found bool
		sc := bufio.NewScanner(bytes.NewReader(ch.out.Bytes()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), mpResultTag); ok {
				found = json.Unmarshal([]byte(line), &results[i]) == nil
			}
		}
		if err != nil || !found || results[i].Err != "" {
			t.Fatalf("%s process: %v %s\n%s", roles[i], err, results[i].Err, ch.out.Bytes())
		}
	}
	return results
}

// mpCleanup deletes every key of the run: its namespace and its index
// prefix (leases included).
func mpCleanup(t *testing.T, conf mpConf) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: conf.Redis, DB: testDB})
	defer c.Close()
	ctx := context.Background()
	for _, pre := range []string{cache.Prefix(conf.Version) + ":", conf.IndexNS} {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, rediscache.MatchPrefix(pre), 1000).Result()
			if err != nil {
				t.Errorf("cleanup: %v", err)
				return
			}
			if len(keys) > 0 {
				if err := c.Del(ctx, keys...).Err(); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
			if next == 0 {
				break
			}
			cursor = next
		}
	}
}

// mpChild runs a child process's role and prints its result.
func mpChild(t *testing.T, role string) {
	var conf mpConf
	res := mpResult{}
	if err := json.Unmarshal([]byte(os.Getenv(mpConfEnv)), &conf); err != nil {
		res.Err = err.Error()
	} else if err := mpRole(t.Context(), role, conf, &res); err != nil {
		res.Err = err.Error()
	}
	b, _ := json.Marshal(res)
	fmt.Printf("\n%s%s\n", mpResultTag, b)
}

// mpRole runs role ("writer", "reader" or "stampede", with ":rueidis" to
// use package rueidiscache's driver instead of this package's, or ":tiered"
// to put an L1 in front of this package's driver, with a bus on
// conf.Channel).
func mpRole(ctx context.Context, role string, conf mpConf, res *mpResult) error {
	var d cache.Driver
	role, viaTiered := strings.CutSuffix(role, ":tiered")
	role, viaRueidis := strings.CutSuffix(role, ":rueidis")
	if viaRueidis {
		client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{conf.Redis}, SelectDB: testDB, DisableCache: true})
		if err != nil {
			return err
		}
		defer client.Close()
		if d, err = rueidiscache.New(client, &rueidiscache.Options{IndexPrefix: conf.IndexNS}); err != nil {
			return err
		}
	} else {
		rdb := redis.NewClient(&redis.Options{Addr: conf.Redis, DB: testDB, ContextTimeoutEnabled: true, PoolSize: 32})
		defer rdb.Close()
		var err error
		if d, err = rediscache.New(rdb, &rediscache.Options{IndexPrefix: conf.IndexNS}); err != nil {
			return err
		}
		if viaTiered {
			bus, err := rediscache.NewBus(rdb, &rediscache.BusOptions{Channel: conf.Channel})
			if err != nil {
				return err
			}
			sig := mpSubscribed{ch: make(chan struct{}), once: new(sync.Once)}
			td, err := tiered.New(d, bus, &tiered.Options{Logger: slog.New(sig)})
			if err != nil {
				return err
			}
			select {
			case <-sig.ch:
			case <-time.After(30 * time.Second): // a guard, never reached on a working machine
				return errors.New("the tiered driver's bus did not subscribe")
			}
			d = td
		}
	}
	c, err := cache.New(d, &cache.Options{
		Version:       conf.Version,
		DisableLeases: !conf.Fence,
		LeaseWait:     10 * time.Second, // a slow, loaded CI machine must not turn waits into queries
		// nor fail the writer's invalidations (a failed one is no completed
		// invalidation the readers could be held to)
		InvalidateTimeout: 10 * time.Second,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	defer c.Close()
	db, err := sql.Open("pgx", conf.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(conf.Readers + 4)
	switch role {
	case "writer":
		return mpWriter(ctx, c, db, conf, res)
	case "reader":
		return mpReader(ctx, c, db, conf, res)
	case "stampede":
		return mpStampede(ctx, c, db, conf, res)
	}
	return fmt.Errorf("unknown role %q", role)
}

var mpKeys = []string{"fence:findUnique:k0", "fence:findUnique:k1", "fence:findMany:k2", "fence:count:k3"}

// mpWriter bumps the row's version, invalidates (by key and by model, in
// turn), and only then publishes the version.
func mpWriter(ctx context.Context, c *cache.Cache, db *sql.DB, conf mpConf, res *mpResult) error {
	var v int64
	if err := db.QueryRowContext(ctx, "SELECT version FROM "+conf.Table+" WHERE id = 1").Scan(&v); err != nil {
		return err
	}
	deadline := time.Now().Add(conf.Duration)
	for time.Now().Before(deadline) {
		v++
		if _, err := db.ExecContext(ctx, "UPDATE "+conf.Table+" SET version = $1 WHERE id = 1", v); err != nil {
			return err
		}
		var err error
		if v%2 == 0 {
			err = c.Invalidate(ctx, mpKeys...)
		} else {
			err = c.InvalidateModel(ctx, "fence")
		}
		if err != nil {
			return fmt.Errorf("invalidation: %w", err)
		}
		if conf.LogTable != "" {
			if _, err := db.ExecContext(ctx, "INSERT INTO "+conf.LogTable+" VALUES ($1, $2)", v, time.Now().UnixNano()); err != nil {
				return err
			}
		}
		if _, err := db.ExecContext(ctx, "UPDATE "+conf.Table+" SET version = $1 WHERE id = 0", v); err != nil {
			return err
		}
		res.Writes++
		time.Sleep(time.Duration(mrand.IntN(4000)) * time.Microsecond) // pacing the load, not waiting for work
	}
	return nil
}

// mpReader reads the published version P, uncached, then the row through
// the cache: a version below P is a stale read.
func mpReader(ctx context.Context, c *cache.Cache, db *sql.DB, conf mpConf, res *mpResult) error {
	load := func(ctx context.Context) (int64, error) {
		var v int64
		err := db.QueryRowContext(ctx, "SELECT version FROM "+conf.Table+", pg_sleep($1) WHERE id = 1", conf.QueryMS/1000).Scan(&v)
		return v, err
	}
	ttl := conf.TTL
	if ttl == 0 {
		ttl = 2 * time.Second
	}
	deadline := time.Now().Add(conf.Duration)
	var reads, stale, lag atomic.Int64
	var wmu sync.Mutex
	var windows []int64
	var wg sync.WaitGroup
	errs := make(chan error, conf.Readers)
	for range conf.Readers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				var p int64
				if err := db.QueryRowContext(ctx, "SELECT version FROM "+conf.Table+" WHERE id = 0").Scan(&p); err != nil {
					errs <- err
					return
				}
				v, err := cache.Load(ctx, c, mpKeys[mrand.IntN(len(mpKeys))], cache.Policy{TTL: ttl}, load)
				if err != nil {
					errs <- err
					return
				}
				returned := time.Now().UnixNano()
				reads.Add(1)
				if v < p {
					stale.Add(1)
					if conf.LogTable != "" {
						// The invalidation of version v, the one that made
						// this read stale, had returned at this instant.
						var at int64
						if err := db.QueryRowContext(ctx, "SELECT at FROM "+conf.LogTable+" WHERE version = $1", v+1).Scan(&at); err != nil {
							errs <- err
							return
						}
						wmu.Lock()
						windows = append(windows, returned-at)
						wmu.Unlock()
					}
					for {
						l := lag.Load()
						if p-v <= l || lag.CompareAndSwap(l, p-v) {
							break
						}
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	res.Reads, res.Stale, res.MaxLag = reads.Load(), stale.Load(), lag.Load()
	if n := len(windows); n > 0 {
		slices.Sort(windows)
		res.Window50, res.Window99, res.WindowMax = windows[(n-1)/2], windows[(n-1)*99/100], windows[n-1]
	}
	return <-errs
}

// mpStampede misses one cold key per round, all processes at the same
// instant, and counts how often its loader (a query) ran.
func mpStampede(ctx context.Context, c *cache.Cache, db *sql.DB, conf mpConf, res *mpResult) error {
	for r := range conf.Rounds {
		time.Sleep(time.Until(conf.Start.Add(time.Duration(r) * conf.Every))) // the round's common start
		var n atomic.Int32
		_, err := cache.Load(ctx, c, "stampede:findUnique:r"+strconv.Itoa(r), cache.Policy{TTL: time.Minute}, func(ctx context.Context) (int, error) {
			n.Add(1)
			var one int
			err := db.QueryRowContext(ctx, "SELECT 1 FROM pg_sleep($1)", conf.QueryMS/1000).Scan(&one)
			return one, err
		})
		if err != nil {
			return err
		}
		res.Queries = append(res.Queries, int(n.Load()))
	}
	return nil
}

func mpDuration(t *testing.T, def time.Duration) time.Duration {
	if s := os.Getenv(mpSecondsEnv); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%s: %v", mpSecondsEnv, err)
		}
		return time.Duration(f * float64(time.Second))
	}
	return def
}

// TestMultiProcessFenceNoStaleReads runs a writer and two reader processes
// against the shared Redis and PostgreSQL, without and with the
// cross-process fence (leases); the writer and one reader use the rueidis
// driver, the other reader this package's. A reader reads the version the writer
// published after its write and invalidation returned, then the row
// through the cache: with the fence no cached read may be older.
func TestMultiProcessFenceNoStaleReads(t *testing.T) {
	if role := os.Getenv(mpRoleEnv); role != "" {
		mpChild(t, role)
		return
	}
	table := "viborm_mp_fence_" + randHex(6)
	conf, _ := mpSetup(t, table, "CREATE TABLE %s (id int PRIMARY KEY, version bigint NOT NULL); INSERT INTO "+table+" VALUES (0, 0), (1, 0)")
	conf.Duration = mpDuration(t, 2*time.Second)
	conf.Readers = 4
	conf.QueryMS = 2
	for _, fence := range []bool{false, true} {
		conf.Fence = fence
		conf.Version = "mp" + randHex(6)
		conf.IndexNS = "viborm-index-mp" + randHex(6) + ":"
		// Both Redis drivers, side by side: they share the lease keys.
		res := mpRun(t, "TestMultiProcessFenceNoStaleReads", conf, []string{"writer:rueidis", "reader", "reader:rueidis"})
		mpCleanup(t, conf)
		var reads, stale, lag int64
		for _, r := range res[1:] {
			reads += r.Reads
			stale += r.Stale
			lag = max(lag, r.MaxLag)
		}
		t.Logf("fence %-5v: %d writes, %d cached reads in 2 processes, %d stale (%.2f%%), up to %d versions behind",
			fence, res[0].Writes, reads, stale, 100*float64(stale)/float64(max(reads, 1)), lag)
		if reads == 0 || res[0].Writes == 0 {
			t.Fatalf("fence %v: no load ran (%d reads, %d writes)", fence, reads, res[0].Writes)
		}
		if fence && stale > 0 {
			t.Errorf("with the fence, %d of %d cached reads across processes were older than the version published after the invalidating write", stale, reads)
		}
	}
}

// TestMultiProcessStampedeLoadsOnce has four processes miss one cold key at
// the same instant, round after round, without and with leases, and counts
// the queries: with leases, one per key.
func TestMultiProcessStampedeLoadsOnce(t *testing.T) {
	if role := os.Getenv(mpRoleEnv); role != "" {
		mpChild(t, role)
		return
	}
	conf, _ := mpSetup(t, "viborm_mp_stampede_"+randHex(6), "CREATE TABLE %s (id int PRIMARY KEY)")
	conf.Rounds = 5
	conf.Every = 300 * time.Millisecond
	conf.QueryMS = 50
	conf.Readers = 1
	roles := []string{"stampede", "stampede", "stampede", "stampede"}
	for _, fence := range []bool{false, true} {
		conf.Fence = fence
		conf.Version = "mp" + randHex(6)
		conf.IndexNS = "viborm-index-mp" + randHex(6) + ":"
		conf.Start = time.Now().Add(2 * time.Second) // after the processes have started
		conf.Duration = 2*time.Second + time.Duration(conf.Rounds)*conf.Every
		res := mpRun(t, "TestMultiProcessStampedeLoadsOnce", conf, roles)
		mpCleanup(t, conf)
		perRound := make([]int, conf.Rounds)
		total := 0
		for _, r := range res {
			for i, n := range r.Queries {
				perRound[i] += n
				total += n
			}
		}
		t.Logf("leases %-5v: %d processes, %d cold keys: queries per key %v (total %d)", fence, len(roles), conf.Rounds, perRound, total)
		if fence && total != conf.Rounds {
			t.Errorf("with leases, %d processes missing %d cold keys ran %d queries, want %d", len(roles), conf.Rounds, total, conf.Rounds)
		}
	}
}

// mpSubscribed is a slog.Handler that closes ch when a tiered driver logs
// that its bus is subscribed (its L1 is on).
type mpSubscribed struct {
	ch   chan struct{}
	once *sync.Once
}

func (h mpSubscribed) Enabled(context.Context, slog.Level) bool { return true }
func (h mpSubscribed) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "in-process tier is on") {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h mpSubscribed) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h mpSubscribed) WithGroup(string) slog.Handler      { return h }

// TestMultiProcessTieredStaleWindow runs a writer and three reader
// processes against the shared Redis and PostgreSQL with the fence, the
// writer and two readers through the two-tier cache (L1 in front of Redis,
// invalidations on a bus), one reader through Redis alone, reads cached for
// 30 seconds. The reader of the shared tier alone never reads a version
// older than the one published after the invalidating write returned; an
// L1 reader may, only until the bus message reached it: the test reports
// how long after the invalidation had returned such stale reads still
// returned, and fails when one came past the bus's health timeout, the
// bound the bus guarantees.
func TestMultiProcessTieredStaleWindow(t *testing.T) {
	if role := os.Getenv(mpRoleEnv); role != "" {
		mpChild(t, role)
		return
	}
	table := "viborm_mp_tiered_" + randHex(6)
	conf, db := mpSetup(t, table, "CREATE TABLE %s (id int PRIMARY KEY, version bigint NOT NULL); INSERT INTO "+table+" VALUES (0, 0), (1, 0)")
	conf.LogTable = table + "_log"
	if _, err := db.Exec("CREATE TABLE " + conf.LogTable + " (version bigint PRIMARY KEY, at bigint NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP TABLE IF EXISTS " + conf.LogTable); err != nil {
			t.Errorf("dropping %s: %v", conf.LogTable, err)
		}
	})
	// Longer than the bound below, so that a bus that delivers nothing
	// shows stale L1 reads past it.
	conf.Duration = mpDuration(t, rediscache.DefaultBusHealthTimeout+time.Second)
	conf.Readers = 4
	conf.QueryMS = 2
	conf.Fence = true
	conf.TTL = 30 * time.Second
	conf.Version = "mp" + randHex(6)
	conf.IndexNS = "viborm-index-mp" + randHex(6) + ":"
	conf.Channel = "viborm-test:bus:mp" + randHex(6)
	res := mpRun(t, "TestMultiProcessTieredStaleWindow", conf, []string{"writer:tiered", "reader:tiered", "reader:tiered", "reader"})
	mpCleanup(t, conf)
	if res[0].Writes == 0 {
		t.Fatal("the writer wrote nothing")
	}
	var l1Reads, l1Stale int64
	var w50, w99, wmax int64
	for _, r := range res[1:3] {
		l1Reads += r.Reads
		l1Stale += r.Stale
		w50, w99, wmax = max(w50, r.Window50), max(w99, r.Window99), max(wmax, r.WindowMax)
	}
	shared := res[3]
	t.Logf("%d writes; shared tier: %d cached reads, %d stale; L1: %d cached reads in 2 processes, %d stale (%.2f%%), "+
		"returned after the invalidation had: p50 %v, p99 %v, max %v (worst process)",
		res[0].Writes, shared.Reads, shared.Stale, l1Reads, l1Stale, 100*float64(l1Stale)/float64(max(l1Reads, 1)),
		time.Duration(w50), time.Duration(w99), time.Duration(wmax))
	if shared.Reads == 0 || l1Reads == 0 {
		t.Fatalf("no load ran (%d shared-tier reads, %d L1 reads)", shared.Reads, l1Reads)
	}
	if shared.Stale > 0 {
		t.Errorf("the shared tier alone served %d of %d cached reads older than the version published after the invalidating write", shared.Stale, shared.Reads)
	}
	// Messages and PING replies share the subscription's connection, in
	// order: a message later than the health timeout makes the bus lost,
	// and L1 off, so no stale L1 read may come later than that.
	if time.Duration(wmax) >= rediscache.DefaultBusHealthTimeout {
		t.Errorf("an L1 served a value %v after its invalidation had returned, past the bus's health timeout %v", time.Duration(wmax), rediscache.DefaultBusHealthTimeout)
	}
}
