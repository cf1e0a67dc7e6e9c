package memorycache

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"

	"github.com/viborm/viborm-go/cache"
)

// DefaultMaxEntries is the bound on the number of entries used when
// [Options.MaxEntries] is zero.
const DefaultMaxEntries = 100_000

// Name is what [Driver.Name] returns.
const Name = "memory"

var (
	// ErrClosed is returned by every operation of a [Driver] after
	// [Driver.Close].
	ErrClosed = errors.New("memorycache: closed")
	// ErrTooLarge is returned (wrapped, with the sizes) by [Driver.Set] and
	// [Driver.Add] for an entry whose estimated size exceeds the byte budget
	// of its shard, which would otherwise evict everything else.
	ErrTooLarge = errors.New("memorycache: entry too large")
)

// Options configures a [Driver]. A nil *Options, and every zero field, means
// the default. [New] copies the options.
type Options struct {
	// MaxEntries bounds the number of entries, expired ones included until
	// they are reclaimed. Zero means [DefaultMaxEntries]; it must not be
	// negative.
	MaxEntries int

	// MaxBytes, when positive, bounds the estimated size of the stored
	// entries in bytes (see Sizer). Zero means no byte bound; it must not be
	// negative. An entry larger than its shard's share of MaxBytes is
	// refused with [ErrTooLarge]. Shards are made few enough that each share
	// is at least 4 MiB (or all of MaxBytes, when it is smaller).
	MaxBytes int64

	// Sizer returns the size in bytes charged against MaxBytes for storing e
	// under key. It is called once per write, only when MaxBytes is set, and
	// must be safe for concurrent use. Nil means an estimate: the key's
	// length, a fixed overhead per entry, and the memory of the value found
	// by walking it with reflection (string and slice contents, maps,
	// pointed-to values, struct fields), with a bound on depth and on the
	// number of values visited. Pass a Sizer when values are large graphs
	// or when the estimate's cost matters.
	Sizer func(key string, e cache.Entry) int64

	// Now is the clock that storage TTLs are measured with. Nil means
	// [time.Now]. Tests pass a controllable clock so they never sleep.
	Now func() time.Time
}

// Driver is the in-memory [cache.Driver]. Create one with [New]; it is safe
// for concurrent use. Its zero value is not usable.
type Driver struct {
	shards []shard
	mask   uint64
	seed   maphash.Seed
	now    func() time.Time
	base   time.Time
	sizer  func(string, cache.Entry) int64
	closed atomic.Bool
	deps   depIndex // see deps.go
}

var (
	_ cache.Driver      = (*Driver)(nil)
	_ cache.Adder       = (*Driver)(nil)
	_ cache.BatchGetter = (*Driver)(nil)
	_ cache.Closer      = (*Driver)(nil)
	_ cache.Nonblocking = (*Driver)(nil)
	_ cache.DepIndexer  = (*Driver)(nil)
)

const (
	maxShards       = 64
	minShardEntries = 1024
	minShardBytes   = 4 << 20
	evictSamples    = 5
	sweepEvery      = 16
	sweepSamples    = 16
)

// item is one stored entry. entry, expires and size never change once the
// item is in a map; a Set replaces the whole item.
type item struct {
	entry   cache.Entry
	expires int64        // nanoseconds since Driver.base
	access  atomic.Int64 // last read or write, in ~1ms units since Driver.base
	size    int64
}

type shard struct {
	mu         sync.RWMutex
	items      map[string]*item
	index      *btree.BTreeG[string]
	bytes      int64
	maxEntries int
	maxBytes   int64
	writes     uint32
	_          [64]byte // keep shards' locks on separate cache lines
}

// New returns a Driver configured by opts. It returns a [*cache.ConfigError]
// (matching [cache.ErrConfig]) for invalid options.
func New(opts *Options) (*Driver, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxEntries < 0 {
		return nil, &cache.ConfigError{Field: "memorycache.Options.MaxEntries", Reason: fmt.Sprintf("%d is negative", o.MaxEntries)}
	}
	if o.MaxBytes < 0 {
		return nil, &cache.ConfigError{Field: "memorycache.Options.MaxBytes", Reason: fmt.Sprintf("%d is negative", o.MaxBytes)}
	}
	if o.MaxEntries == 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxBytes > 0 && o.Sizer == nil {
		o.Sizer = estimateSize
	}
	n := 1
	for n < maxShards && o.MaxEntries/(2*n) >= minShardEntries &&
		(o.MaxBytes == 0 || o.MaxBytes/int64(2*n) >= minShardBytes) {
		n *= 2
	}
	d := &Driver{
		shards: make([]shard, n),
		mask:   uint64(n - 1),
		seed:   maphash.MakeSeed(),
		now:    o.Now,
		base:   o.Now(),
	}
	if o.MaxBytes > 0 {
		d.sizer = o.Sizer
	}
	d.deps.init(2 * o.MaxEntries)
	for i := range d.shards {
		s := &d.shards[i]
		s.items = make(map[string]*item)
		s.index = btree.NewOrderedG[string](32)
		s.maxEntries = o.MaxEntries / n
		if i < o.MaxEntries%n {
			s.maxEntries++
		}
		if o.MaxBytes > 0 {
			s.maxBytes = o.MaxBytes / int64(n)
			if int64(i) < o.MaxBytes%int64(n) {
				s.maxBytes++
			}
		}
	}
	return d, nil
}

// Name returns "memory".
func (d *Driver) Name() string { return Name }

// Nonblocking reports true: the driver never blocks on I/O, so a
// [cache.Cache] calls it directly.
func (d *Driver) Nonblocking() bool { return true }

func (d *Driver) shard(key string) *shard {
	if d.mask == 0 {
		return &d.shards[0]
	}
	return &d.shards[maphash.String(d.seed, key)&d.mask]
}

// clock returns the time since d.base in nanoseconds, using the monotonic
// clock when Now provides one.
func (d *Driver) clock() int64 { return int64(d.now().Sub(d.base)) }

func accessStamp(now int64) int64 { return now >> 20 }

func (d *Driver) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Get returns the entry stored under key. The entry's Value is the one that
// was stored, shared and not copied: treat it as read-only.
func (d *Driver) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	if err := d.check(ctx); err != nil {
		return cache.Entry{}, false, err
	}
	e, ok := d.get(key, d.clock())
	return e, ok, nil
}

func (d *Driver) get(key string, now int64) (cache.Entry, bool) {
	s := d.shard(key)
	s.mu.RLock()
	it, ok := s.items[key]
	if !ok {
		s.mu.RUnlock()
		return cache.Entry{}, false
	}
	if now >= it.expires {
		s.mu.RUnlock()
		s.expire(key, it)
		return cache.Entry{}, false
	}
	if a := accessStamp(now); it.access.Load() != a {
		it.access.Store(a)
	}
	e := it.entry
	s.mu.RUnlock()
	return e, true
}

// GetMany returns the entries stored under keys; missing and expired keys
// are absent from the map, which belongs to the caller.
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string]cache.Entry, error) {
	if err := d.check(ctx); err != nil {
		return nil, err
	}
	now := d.clock()
	out := make(map[string]cache.Entry, len(keys))
	for _, k := range keys {
		if e, ok := d.get(k, now); ok {
			out[k] = e
		}
	}
	return out, nil
}

// Set stores e under key for storageTTL, replacing any previous entry. The
// entry's Value is stored as it is, not copied: treat it as read-only from
// then on. When the store is full, Set first evicts (see the package
// documentation). It returns an error wrapping [ErrTooLarge] for an entry
// larger than its shard's byte budget, after removing any previous entry
// under key.
func (d *Driver) Set(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) error {
	_, err := d.put(ctx, key, storageTTL, e, false)
	return err
}

// Add stores e under key for storageTTL only when no unexpired entry is
// stored under key, and reports whether it stored. It is atomic: of many
// concurrent Adds of an absent key, exactly one reports true.
func (d *Driver) Add(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) (bool, error) {
	return d.put(ctx, key, storageTTL, e, true)
}

func (d *Driver) put(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry, onlyIfAbsent bool) (bool, error) {
	if err := d.check(ctx); err != nil {
		return false, err
	}
	var size int64
	if d.sizer != nil {
		size = d.sizer(key, e)
	}
	now := d.clock()
	expires := int64(math.MaxInt64)
	if storageTTL < time.Duration(math.MaxInt64-now) {
		expires = now + int64(storageTTL)
	}
	s := d.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, replacing := s.items[key]
	if replacing {
		if onlyIfAbsent && now < old.expires {
			return false, nil
		}
		// Take the old item out of the map (so eviction cannot pick key)
		// but leave key in the index, where the new item goes.
		delete(s.items, key)
		s.bytes -= old.size
	}
	if storageTTL <= 0 || (s.maxBytes > 0 && size > s.maxBytes) {
		if replacing {
			s.index.Delete(key)
		}
		if storageTTL <= 0 {
			// Already expired: storing it would only take room.
			return true, nil
		}
		return false, fmt.Errorf("%w: %d bytes estimated, shard budget %d bytes", ErrTooLarge, size, s.maxBytes)
	}
	for len(s.items) >= s.maxEntries || (s.maxBytes > 0 && s.bytes+size > s.maxBytes) {
		if !s.evictOneLocked(now) {
			break
		}
	}
	it := &item{entry: e, expires: expires, size: size}
	it.access.Store(accessStamp(now))
	s.items[key] = it
	if !replacing {
		s.index.ReplaceOrInsert(key)
	}
	s.bytes += size
	s.writes++
	if s.writes%sweepEvery == 0 {
		s.sweepLocked(now)
	}
	return true, nil
}

// removeLocked removes key, whose item is it, from the map and the index.
func (s *shard) removeLocked(key string, it *item) {
	delete(s.items, key)
	s.index.Delete(key)
	s.bytes -= it.size
}

// expire removes key if it still holds the expired item it.
func (s *shard) expire(key string, it *item) {
	s.mu.Lock()
	if cur, ok := s.items[key]; ok && cur == it {
		s.removeLocked(key, it)
	}
	s.mu.Unlock()
}

// evictOneLocked evicts one entry chosen by sampling: the first expired one
// seen, or else the least recently used of the sample. It reports whether it
// evicted anything.
func (s *shard) evictOneLocked(now int64) bool {
	var (
		victim     string
		victimItem *item
		oldest     = int64(math.MaxInt64)
		seen       int
	)
	for k, it := range s.items { // Go randomizes where iteration starts
		if now >= it.expires {
			victim, victimItem = k, it
			break
		}
		if a := it.access.Load(); a < oldest {
			victim, victimItem, oldest = k, it, a
		}
		if seen++; seen >= evictSamples {
			break
		}
	}
	if victimItem == nil {
		return false
	}
	s.removeLocked(victim, victimItem)
	return true
}

// sweepLocked removes the expired entries among a sample of the shard.
func (s *shard) sweepLocked(now int64) {
	var buf [sweepSamples]string
	for _, k := range expiredSample(&buf, s.items, now, func(it *item) int64 { return it.expires }) {
		s.removeLocked(k, s.items[k])
	}
}

// expiredSample returns, in buf, the keys of m whose expiry (exp) is at or
// before now, among the first sweepSamples that ranging over m yields (Go
// randomizes where iteration starts).
func expiredSample[V any](buf *[sweepSamples]string, m map[string]V, now int64, exp func(V) int64) []string {
	n, seen := 0, 0
	for k, v := range m {
		if now >= exp(v) {
			buf[n] = k
			n++
		}
		if seen++; seen >= sweepSamples {
			break
		}
	}
	return buf[:n]
}

// Delete removes keys. Missing keys are ignored; an empty keys is a no-op.
func (d *Driver) Delete(ctx context.Context, keys []string) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	d.deleteKeys(keys)
	return nil
}

// Clear removes every key that starts with prefix, compared byte for byte.
// It visits only the matching keys, through each shard's ordered index.
func (d *Driver) Clear(ctx context.Context, prefix string) error {
	if err := d.check(ctx); err != nil {
		return err
	}
	var keys []string
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		keys = keys[:0]
		s.index.AscendGreaterOrEqual(prefix, func(k string) bool {
			if !strings.HasPrefix(k, prefix) {
				return false
			}
			keys = append(keys, k)
			return true
		})
		for _, k := range keys {
			s.removeLocked(k, s.items[k])
		}
		s.mu.Unlock()
	}
	clear(keys)
	return nil
}

// Len returns the number of stored entries, counting expired entries whose
// memory has not been reclaimed yet.
func (d *Driver) Len() int {
	n := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.RLock()
		n += len(s.items)
		s.mu.RUnlock()
	}
	return n
}

// Close drops every entry. It is idempotent and always returns nil; the
// driver starts no goroutines, so there is nothing to wait for. Every later
// operation returns [ErrClosed].
func (d *Driver) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		s.items = make(map[string]*item)
		s.index.Clear(false)
		s.bytes = 0
		s.mu.Unlock()
	}
	d.deps.mu.Lock()
	d.deps.init(d.deps.max)
	d.deps.mu.Unlock()
	return nil
}
