package rediscache

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
)

// Hooks for the black-box tests.

// Slot returns the hash slot of key as the driver computes it.
func Slot(key string) int { return slot(key) }

// SlotTag returns the hash tag the driver uses for slot s.
func SlotTag(s int) string { return slotTags()[s] }

// IndexKey returns the name of the index of prefix for slot s (s is ignored
// on a single node).
func (d *Driver) IndexKey(prefix string, s int) string { return d.indexKey(prefix, s) }

// RegistryKey returns the name of the cluster registry of prefix.
func (d *Driver) RegistryKey(prefix string) string { return d.registryKey(prefix) }

// SetPipelined stores e under every key, as Set does, in one pipeline: for
// benchmarks that need many keys quickly.
func (d *Driver) SetPipelined(ctx context.Context, keys []string, ttl time.Duration, e cache.Entry) error {
	data, err := cache.MarshalEntry(e, d.codec)
	if err != nil {
		return err
	}
	_, err = d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			args := []string{k}
			for _, pre := range indexPrefixes(k, d.depth, nil) {
				args = append(args, d.indexKey(pre, 0))
			}
			setScript.Eval(ctx, p, args, data, ttl.Milliseconds(), "0")
		}
		return nil
	})
	return err
}
