package rediscache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/internal/redisindex"
)

// Defaults used when the corresponding option is zero.
const (
	DefaultIndexPrefix = redisindex.DefaultPrefix
	DefaultIndexDepth  = redisindex.DefaultDepth
)

// Options configures a [Driver]. A nil *Options, and every zero field, means
// the default. [New] copies the options.
type Options struct {
	// IndexPrefix starts the name of every key the driver keeps for its own
	// bookkeeping (the prefix indexes; see the package documentation). Keys
	// starting with it are reserved: Clear never removes them, even when its
	// prefix matches them. It must not contain '{' or '}'. Default
	// [DefaultIndexPrefix].
	IndexPrefix string

	// IndexDepth is how many ':'-terminated prefixes of a key are indexed:
	// with 4, "viborm:user:findMany:h" is listed under "viborm:",
	// "viborm:user:" and "viborm:user:findMany:". Clear with a prefix that
	// ends with ':' and holds at most IndexDepth of them uses the index;
	// other prefixes are cleared with SCAN. Each level costs one sorted-set
	// entry per stored key. Default [DefaultIndexDepth].
	IndexDepth int

	// NoIndex turns the index off: Set is a plain SET PX and Clear always
	// SCANs the whole keyspace (of every master, on a cluster). Use it when
	// processes that do not maintain the index, such as TypeScript VibORM
	// services, write entries that this driver must clear.
	NoIndex bool

	// Codec encodes values that are not already a json.RawMessage. It must
	// produce JSON. Nil means [cache.JSON].
	Codec cache.Codec
}

// Driver is a [cache.Driver] storing entries in Redis through a go-redis v9
// client: a single node, a Sentinel-managed failover client or a Cluster.
// It is safe for concurrent use. The client stays the caller's: the driver
// never closes it.
type Driver struct {
	client  redis.UniversalClient
	cluster *redis.ClusterClient // non-nil on a cluster
	codec   cache.Codec
	layout  redisindex.Layout
	depth   int // layout.Depth
	// honorsCtx: the client applies context deadlines to its I/O.
	honorsCtx bool
}

var (
	_ cache.Driver         = (*Driver)(nil)
	_ cache.Adder          = (*Driver)(nil)
	_ cache.BatchGetter    = (*Driver)(nil)
	_ cache.Closer         = (*Driver)(nil)
	_ cache.ContextHonorer = (*Driver)(nil)
	_ cache.Leaser         = (*Driver)(nil)
)

// New returns a Driver that stores in client. The client may be a
// *redis.Client (single node, or Sentinel through redis.NewFailoverClient) or
// a *redis.ClusterClient, as returned by redis.NewUniversalClient; a
// *redis.Ring is not supported. New reports invalid options as a
// [*cache.ConfigError].
func New(client redis.UniversalClient, opts *Options) (*Driver, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if client == nil {
		return nil, &cache.ConfigError{Field: "rediscache.New client", Reason: "nil client"}
	}
	if _, ok := client.(*redis.Ring); ok {
		return nil, &cache.ConfigError{Field: "rediscache.New client", Reason: "redis.Ring is not supported; use a single node, Sentinel or a Cluster"}
	}
	cluster, _ := client.(*redis.ClusterClient)
	layout, err := redisindex.NewLayout("rediscache", o.IndexPrefix, o.IndexDepth, o.NoIndex, cluster != nil)
	if err != nil {
		return nil, err
	}
	if o.Codec == nil {
		o.Codec = cache.JSON
	}
	d := &Driver{client: client, cluster: cluster, codec: o.Codec, layout: layout, depth: layout.Depth}
	switch c := client.(type) {
	case *redis.Client:
		d.honorsCtx = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		d.honorsCtx = c.Options().ContextTimeoutEnabled
	}
	return d, nil
}

// HonorsContext reports whether the client was made with
// ContextTimeoutEnabled: only then does go-redis apply a context's deadline
// to its network I/O. When it does, a [cache.Cache] calls the driver
// directly and bounds each call through the context; otherwise it calls the
// driver on a goroutine of its own to enforce its timeout, which costs
// throughput. Set ContextTimeoutEnabled on clients used for caching.
func (d *Driver) HonorsContext() bool { return d.honorsCtx }

// Name returns "redis".
func (d *Driver) Name() string { return "redis" }

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
	b, err := d.client.Get(ctx, key).Bytes()
	if err != nil {
		if err == redis.Nil {
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
	var firstErr error
	collect := func(keys []string, vals []any) {
		for i, v := range vals {
			s, ok := v.(string)
			if !ok {
				continue
			}
			e, err := cache.UnmarshalEntry([]byte(s))
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			out[keys[i]] = e
		}
	}
	if d.cluster == nil {
		vals, err := d.client.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, err
		}
		collect(keys, vals)
	} else {
		groups := bySlot(keys)
		cmds := make([]*redis.SliceCmd, len(groups))
		_, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, g := range groups {
				cmds[i] = p.MGet(ctx, g...)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for i, c := range cmds {
			collect(groups[i], c.Val())
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
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := cache.MarshalEntry(e, d.codec)
	if err != nil {
		return err
	}
	if d.layout.NoIndex {
		return d.client.Set(ctx, key, data, storageTTL).Err()
	}
	_, err = d.setIndexed(ctx, key, storageTTL, data, false)
	return err
}

// Add stores e under key for storageTTL only if no entry is stored there (SET
// NX PX), and reports whether it stored.
func (d *Driver) Add(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	data, err := cache.MarshalEntry(e, d.codec)
	if err != nil {
		return false, err
	}
	if d.layout.NoIndex {
		return d.client.SetNX(ctx, key, data, storageTTL).Result()
	}
	return d.setIndexed(ctx, key, storageTTL, data, true)
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
	if d.cluster == nil {
		for len(keys) > 0 {
			n := min(len(keys), clearBatch)
			if err := d.client.Del(ctx, keys[:n]...).Err(); err != nil {
				return err
			}
			keys = keys[n:]
		}
		return nil
	}
	groups := bySlot(keys)
	cmds, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, g := range groups {
			p.Del(ctx, g...)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}

// errEmptyPrefix is returned by Clear for an empty prefix, which the
// [cache.Driver] contract rules out: clearing everything is never implied.
var errEmptyPrefix = errors.New("rediscache: empty prefix")

// Clear removes every key that starts with prefix, literally. A prefix
// ending with ':' (within [Options.IndexDepth]) is served from the index, at
// a cost proportional to the keys removed; any other prefix, or every prefix
// with [Options.NoIndex], is served by SCAN with the glob characters of
// prefix escaped, on every master of a cluster. Keys starting with
// [Options.IndexPrefix] are never removed.
func (d *Driver) Clear(ctx context.Context, prefix string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if prefix == "" {
		return errEmptyPrefix
	}
	if d.indexed(prefix) {
		return d.clearIndexed(ctx, prefix)
	}
	return d.clearScan(ctx, prefix)
}

// clearScan removes the keys starting with prefix found by SCAN, and their
// leases. Leases go first, all of them: a fill holding one of them that
// stores before its lease is gone stores before the scan of keys starts,
// which then finds its key.
func (d *Driver) clearScan(ctx context.Context, prefix string) error {
	if err := d.scanDelete(ctx, d.layout.LeaseMatch(prefix), func(keys []string) []string {
		return d.layout.LeasesUnder(keys, prefix)
	}); err != nil {
		return err
	}
	return d.scanDelete(ctx, MatchPrefix(prefix), func(keys []string) []string {
		return d.layout.WithLeases(d.layout.Scanned(keys, prefix))
	})
}

// scanDelete removes the keys that SCAN MATCH match finds and keep keeps,
// on every master of a cluster.
func (d *Driver) scanDelete(ctx context.Context, match string, keep func([]string) []string) error {
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, match, clearBatch).Result()
			if err != nil {
				return err
			}
			if err := d.del(ctx, keep(keys)); err != nil {
				return err
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	if d.cluster == nil {
		return scan(ctx, d.client)
	}
	return d.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		return scan(ctx, c)
	})
}
