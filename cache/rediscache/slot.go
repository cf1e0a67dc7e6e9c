package rediscache

import "github.com/viborm/viborm-go/cache/internal/redisindex"

// slot returns the Redis Cluster hash slot of key, honouring hash tags.
func slot(key string) int { return redisindex.Slot(key) }

// slotTags returns the hash tag the index of each slot carries.
var slotTags = redisindex.SlotTags

// bySlot groups keys by hash slot, keeping their order within a group.
func bySlot(keys []string) [][]string { return redisindex.BySlot(keys) }
