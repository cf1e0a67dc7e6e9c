package rediscache

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
