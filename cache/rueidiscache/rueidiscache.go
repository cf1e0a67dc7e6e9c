package rueidiscache

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex"
)

// Defaults used when the corresponding option is zero. They are the same as
// package rediscache's, so both drivers share one index.
const (
	DefaultIndexPrefix = redisindex.DefaultPrefix
	DefaultIndexDepth  = redisindex.DefaultDepth
)

// Options configures a [Driver]. A nil *Options, and every zero field, means
// the default. [New] copies the options. They mean what the options of
// package rediscache mean; two drivers with equal options, one of each
// package, keep and clear the same index.
type Options struct {
	// IndexPrefix starts the name of every key the driver keeps for its own
	// bookkeeping (the prefix indexes). Keys starting with it are reserved:
	// Clear never removes them. It must not contain '{' or '}'. Default
	// [DefaultIndexPrefix].
	IndexPrefix string

	// IndexDepth is how many ':'-terminated prefixes of a key are indexed.
	// Clear with a prefix that ends with ':' and holds at most IndexDepth of
	// them uses the index; other prefixes are cleared with SCAN. Default
	// [DefaultIndexDepth].
	IndexDepth int

	// NoIndex turns the index off: Set is a plain SET PX and Clear always
	// SCANs (every node of a cluster). Use it when processes that do not
	// maintain the index write entries that this driver must clear.
	NoIndex bool

	// Codec encodes values that are not already a json.RawMessage. It must
	// produce JSON. Nil means [cache.JSON].
	Codec cache.Codec
}

// Driver is a [cache.Driver] storing entries in Redis through a rueidis
// client: a single node, Sentinel or a Cluster. It is safe for concurrent
// use. The client stays the caller's: the driver never closes it.
type Driver struct {
	client rueidis.Client
	codec  cache.Codec
	layout redisindex.Layout
}

var (
	_ cache.Driver         = (*Driver)(nil)
	_ cache.Adder          = (*Driver)(nil)
	_ cache.BatchGetter    = (*Driver)(nil)
	_ cache.Closer         = (*Driver)(nil)
	_ cache.ContextHonorer = (*Driver)(nil)
	_ cache.Leaser         = (*Driver)(nil)
)

// The scripts of the shared index: setScript's Exec sends EVALSHA, and EVAL
// when the node answers NOSCRIPT; the clear script runs through runEach,
// which does the same for a pipeline.
var (
	setScript      = rueidis.NewLuaScript(redisindex.SetScript)
	clearScriptSHA = func() string {
		h := sha1.Sum([]byte(redisindex.ClearScript))
		return hex.EncodeToString(h[:])
	}()
)

// New returns a Driver that stores in client, which may be a single-node,
// Sentinel or Cluster client from rueidis.NewClient. New reports invalid
// options as a [*cache.ConfigError].
func New(client rueidis.Client, opts *Options) (*Driver, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if client == nil {
		return nil, &cache.ConfigError{Field: "rueidiscache.New client", Reason: "nil client"}
	}
	layout, err := redisindex.NewLayout("rueidiscache", o.IndexPrefix, o.IndexDepth, o.NoIndex, client.Mode() == rueidis.ClientModeCluster)
	if err != nil {
		return nil, err
	}
	if o.Codec == nil {
		o.Codec = cache.JSON
	}
	return &Driver{client: client, codec: o.Codec, layout: layout}, nil
}

// HonorsContext returns true: rueidis returns a command's context error as
// soon as the context is done, whether or not Redis has answered, so a
// [cache.Cache] calls the driver directly and bounds each call through the
// context.
func (d *Driver) HonorsContext() bool { return true }

// Name returns "rueidis".
func (d *Driver) Name() string { return "rueidis" }

// Close does nothing: the driver holds nothing of its own, and the client
// belongs to the caller.
func (d *Driver) Close() error { return nil }

// Get returns the entry stored under key. A missing key is a miss (ok is
// false, err nil). Bytes that are not an entry in VibORM's JSON form return
// the [*cache.EntryError] of [cache.UnmarshalEntry], which matches
// [cache.ErrCorruptEntry]; the entry's Value is a json.RawMessage.
func (d *Driver) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	if err := ctx.Err(); err != nil {
		return cache.Entry{}, false, err
	}
	b, err := d.client.Do(ctx, d.client.B().Get().Key(key).Build()).AsBytes()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return cache.Entry{}, false, nil
		}
		return cache.Entry{}, false, err
	}
	e, err := cache.UnmarshalEntry(b)
	if err != nil {
		return cache.Entry{}, false, err
	}
	return e, true, nil
}

// GetMany returns the entries stored under keys: with one MGET on a single
// node, and one MGET per hash slot, pipelined, on a cluster. Missing keys are
// absent from the map. A corrupt entry fails the call as it fails [Driver.Get].
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string]cache.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]cache.Entry, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	groups := [][]string{keys}
	if d.layout.Cluster {
		groups = redisindex.BySlot(keys)
	}
	cmds := make(rueidis.Commands, len(groups))
	for i, g := range groups {
		cmds[i] = d.client.B().Mget().Key(g...).Build()
	}
	var firstErr error
	for i, r := range d.client.DoMulti(ctx, cmds...) {
		vals, err := r.ToArray()
		if err != nil {
			return nil, err
		}
		for j, v := range vals {
			b, err := v.AsBytes()
			if err != nil {
				continue // nil: a miss
			}
			e, err := cache.UnmarshalEntry(b)
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			out[groups[i][j]] = e
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// Set stores e, in VibORM's JSON form, under key for storageTTL (SET PX),
// recording the key in its prefix indexes in the same atomic step.
func (d *Driver) Set(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) error {
	_, err := d.set(ctx, key, storageTTL, e, false)
	return err
}

// Add stores e under key for storageTTL only if no entry is stored there (SET
// NX PX), and reports whether it stored.
func (d *Driver) Add(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) (bool, error) {
	return d.set(ctx, key, storageTTL, e, true)
}

// millis is a storage TTL in whole milliseconds, at least one.
func millis(ttl time.Duration) int64 { return max(ttl.Milliseconds(), 1) }

func (d *Driver) set(ctx context.Context, key string, ttl time.Duration, e cache.Entry, nx bool) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	data, err := cache.MarshalEntry(e, d.codec)
	if err != nil {
		return false, err
	}
	var keys, prefixes []string
	var sl int
	if !d.layout.NoIndex {
		keys, prefixes, sl = d.layout.SetKeys(key)
	}
	if len(keys) == 0 {
		cmd := d.client.B().Set().Key(key).Value(rueidis.BinaryString(data))
		var err error
		if nx {
			err = d.client.Do(ctx, cmd.Nx().PxMilliseconds(millis(ttl)).Build()).Error()
		} else {
			err = d.client.Do(ctx, cmd.PxMilliseconds(millis(ttl)).Build()).Error()
		}
		if rueidis.IsRedisNil(err) {
			return false, nil // NX: the key exists
		}
		return err == nil, err
	}
	if d.layout.Cluster {
		after, err := redisindex.Register(ctx, func(ctx context.Context) error { return d.register(ctx, prefixes, sl, ttl) })
		if err != nil {
			return false, err
		}
		defer after()
	}
	nxArg := "0"
	if nx {
		nxArg = "1"
	}
	n, err := setScript.Exec(ctx, d.client, keys, []string{rueidis.BinaryString(data), strconv.FormatInt(millis(ttl), 10), nxArg}).AsInt64()
	return n == 1, err
}

// register records, before a key is written on a cluster, that slot sl may
// hold keys under each prefix (see package rediscache, "Clearing by
// prefix"), in one pipeline.
func (d *Driver) register(ctx context.Context, prefixes []string, sl int, ttl time.Duration) error {
	return d.registerIn(ctx, prefixes, d.layout.RegistryKey, sl, ttl)
}

// registerIn adds slot sl to the registry reg(n) of each of names, in one
// pipeline, and extends each registry to live at least ttl plus
// redisindex.RegistryGrace (and never shortens it).
func (d *Driver) registerIn(ctx context.Context, names []string, reg func(string) string, sl int, ttl time.Duration) error {
	life := redisindex.RegistryLife(ttl).Milliseconds()
	s := strconv.Itoa(sl)
	cmds := make(rueidis.Commands, 0, 3*len(names))
	for _, n := range names {
		k := reg(n)
		cmds = append(cmds,
			d.client.B().Sadd().Key(k).Member(s).Build(),
			d.client.B().Pexpire().Key(k).Milliseconds(life).Nx().Build(),
			d.client.B().Pexpire().Key(k).Milliseconds(life).Gt().Build())
	}
	return firstError(d.client.DoMulti(ctx, cmds...))
}

// firstError returns the first error of rs that is not a nil reply.
func firstError(rs []rueidis.RedisResult) error {
	for _, r := range rs {
		if err := r.Error(); err != nil && !rueidis.IsRedisNil(err) {
			return err
		}
	}
	return nil
}

// Delete removes keys and their leases (voiding them; see [cache.Leaser]):
// with DEL on a single node, and one DEL per hash slot, pipelined, on a
// cluster, so keys of different slots never fail with CROSSSLOT.
func (d *Driver) Delete(ctx context.Context, keys []string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	return d.del(ctx, d.layout.WithLeases(keys))
}

// del removes keys, as they are.
func (d *Driver) del(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	var groups [][]string
	if d.layout.Cluster {
		groups = redisindex.BySlot(keys)
	} else {
		for len(keys) > 0 {
			n := min(len(keys), redisindex.ClearBatch)
			groups = append(groups, keys[:n])
			keys = keys[n:]
		}
	}
	cmds := make(rueidis.Commands, len(groups))
	for i, g := range groups {
		cmds[i] = d.client.B().Del().Key(g...).Build()
	}
	return firstError(d.client.DoMulti(ctx, cmds...))
}

// errEmptyPrefix is returned by Clear for an empty prefix, which the
// [cache.Driver] contract rules out: clearing everything is never implied.
var errEmptyPrefix = errors.New("rueidiscache: empty prefix")

// Clear removes every key that starts with prefix, literally. A prefix
// ending with ':' (within [Options.IndexDepth]) is served from the index, at
// a cost proportional to the keys removed; any other prefix, or every prefix
// with [Options.NoIndex], is served by SCAN with the glob characters of
// prefix escaped, on every node of a cluster. Keys starting with
// [Options.IndexPrefix] are never removed.
func (d *Driver) Clear(ctx context.Context, prefix string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if prefix == "" {
		return errEmptyPrefix
	}
	if d.layout.Indexed(prefix) {
		return d.clearIndexed(ctx, prefix)
	}
	return d.clearScan(ctx, prefix)
}

// clearIndexed removes the keys listed in the index of prefix: on a single
// node one index, on a cluster the index of every slot its registry lists.
func (d *Driver) clearIndexed(ctx context.Context, prefix string) error {
	var keys []string
	if d.layout.Cluster {
		members, err := d.client.Do(ctx, d.client.B().Smembers().Key(d.layout.RegistryKey(prefix)).Build()).AsStrSlice()
		if err != nil {
			return err
		}
		keys = d.layout.SlotIndexKeys(prefix, members)
	} else {
		keys = []string{d.layout.IndexKey(prefix, 0)}
	}
	batch := strconv.Itoa(redisindex.ClearBatch)
	for len(keys) > 0 {
		var more []string
		for i, r := range d.runEach(ctx, clearScriptSHA, redisindex.ClearScript, keys, batch) {
			n, err := r.AsInt64()
			if err != nil {
				return err
			}
			if n > 0 {
				more = append(more, keys[i])
			}
		}
		keys = more
	}
	return nil
}

// runEach runs a script (source src, SHA-1 sha) once per key, each its only
// KEYS entry, in one pipeline (which the client splits by node), and again
// with EVAL for the keys whose node does not have the script cached. It
// returns one result per key.
func (d *Driver) runEach(ctx context.Context, sha, src string, keys []string, args ...string) []rueidis.RedisResult {
	return d.runEachArgs(ctx, sha, src, keys, func(string) []string { return args })
}

// runEachArgs is runEach with the arguments args(k) for key k.
func (d *Driver) runEachArgs(ctx context.Context, sha, src string, keys []string, args func(k string) []string) []rueidis.RedisResult {
	cmds := make(rueidis.Commands, len(keys))
	for i, k := range keys {
		cmds[i] = d.client.B().Evalsha().Sha1(sha).Numkeys(1).Key(k).Arg(args(k)...).Build()
	}
	out := d.client.DoMulti(ctx, cmds...)
	var retry []int
	for i, r := range out {
		if err, ok := rueidis.IsRedisErr(r.Error()); ok && err.IsNoScript() {
			retry = append(retry, i)
		}
	}
	if len(retry) == 0 {
		return out
	}
	cmds = cmds[:0]
	for _, i := range retry {
		cmds = append(cmds, d.client.B().Eval().Script(src).Numkeys(1).Key(keys[i]).Arg(args(keys[i])...).Build())
	}
	for j, r := range d.client.DoMulti(ctx, cmds...) {
		out[retry[j]] = r
	}
	return out
}

// clearScan removes the keys starting with prefix found by SCAN, and their
// leases, on every node of a cluster in parallel. Leases go first, all of
// them: a fill holding one of them that stores before its lease is gone
// stores before the scan of keys starts, which then finds its key.
func (d *Driver) clearScan(ctx context.Context, prefix string) error {
	if err := d.scanDelete(ctx, d.layout.LeaseMatch(prefix), func(keys []string) []string {
		return d.layout.LeasesUnder(keys, prefix)
	}); err != nil {
		return err
	}
	return d.scanDelete(ctx, redisindex.MatchPrefix(prefix), func(keys []string) []string {
		return d.layout.WithLeases(d.layout.Scanned(keys, prefix))
	})
}

// scanDelete removes the keys that SCAN MATCH match finds and keep keeps,
// on every node of a cluster in parallel.
func (d *Driver) scanDelete(ctx context.Context, match string, keep func([]string) []string) error {
	scan := func(node rueidis.Client) error {
		var cursor uint64
		for {
			se, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(match).Count(redisindex.ClearBatch).Build()).AsScanEntry()
			if err != nil {
				return err
			}
			if err := d.del(ctx, keep(se.Elements)); err != nil {
				return err
			}
			if se.Cursor == 0 {
				return nil
			}
			cursor = se.Cursor
		}
	}
	if !d.layout.Cluster {
		return scan(d.client)
	}
	nodes := d.client.Nodes()
	errs := make(chan error, len(nodes))
	for _, n := range nodes {
		go func() { errs <- scan(n) }()
	}
	var err error
	for range nodes {
		err = errors.Join(err, <-errs)
	}
	return err
}
