package cache

// SetHookBeforeJoin sets a function that Load runs after its lookup missed
// and before it joins or starts the shared load of the key: tests hold a
// reader there.
func SetHookBeforeJoin(c *Cache, f func()) { c.hookBeforeJoin = f }
