package cache

// SetHookBeforeJoin sets a function that Load runs after its lookup missed
// and before it joins or starts the shared load of the key: tests hold a
// reader there.
func SetHookBeforeJoin(c *Cache, f func()) { c.hookBeforeJoin = f }

// SetHookJoined sets a function that Load runs after it joined a shared load
// in flight of its key.
func SetHookJoined(c *Cache, f func()) { c.hookJoined = f }
