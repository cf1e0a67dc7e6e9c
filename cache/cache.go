package cache

import (
	"context"
	"time"
)

// Cache is the query-result cache that users hold: VibORM's CacheDriver base
// class. It owns the logic shared by every backend (key prefixing, TTLs,
// stale-while-revalidate, one load per key, invalidation, timeouts and
// background work) on top of a small [Driver].
//
// A Cache is safe for concurrent use. Close it when done: [Cache.Close]
// waits for its background work and closes the driver.
type Cache struct{}

// New returns a Cache storing in d. It returns a [*ConfigError] for invalid
// options. The Cache owns d from then on: Close closes it.
func New(d Driver, opts *Options) (*Cache, error) { panic("TODO") }

// Driver returns the cache's driver.
func (c *Cache) Driver() Driver { panic("TODO") }

// Prefix returns the prefix of every key: "viborm" or "viborm:v<Version>".
func (c *Cache) Prefix() string { panic("TODO") }

// Key returns the full key "viborm[:v<version>]:<model>:<op>:<hash>" for a
// read of model with args, hashed with the default hash.
func (c *Cache) Key(model, op string, args any) (string, error) { panic("TODO") }

// FullKey returns key with the cache's prefix, or key itself when it
// already starts with "viborm:".
func (c *Cache) FullKey(key string) string { panic("TODO") }

// Get returns the raw entry stored under key (prefixed like any key).
func (c *Cache) Get(ctx context.Context, key string) (Entry, bool, error) { panic("TODO") }

// Set stores value under key, created now, for the policy's TTL; the storage
// TTL adds the stale window when the policy enables SWR.
func (c *Cache) Set(ctx context.Context, key string, value any, p Policy) error { panic("TODO") }

// Delete removes keys and their refresh markers.
func (c *Cache) Delete(ctx context.Context, keys ...string) error { panic("TODO") }

// Clear removes every key starting with prefix (prefixed like any key).
func (c *Cache) Clear(ctx context.Context, prefix string) error { panic("TODO") }

// Invalidate removes exact keys and "prefix*" patterns.
func (c *Cache) Invalidate(ctx context.Context, patterns ...string) error { panic("TODO") }

// InvalidateModel removes every entry of each model.
func (c *Cache) InvalidateModel(ctx context.Context, models ...string) error { panic("TODO") }

// Close waits for background work and closes the driver.
func (c *Cache) Close() error { panic("TODO") }

// Load is the cached read.
func Load[T any](ctx context.Context, c *Cache, key string, p Policy, load func(context.Context) (T, error)) (T, error) {
	panic("TODO")
}

var _ = time.Now
