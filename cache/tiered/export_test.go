package tiered

import "github.com/viborm/viborm-go/cache"

// Event is what a hooked Driver reports, on its bus goroutine, after it
// applied a bus event: Kind is "subscribed", "lost" or "invalidate".
type Event struct {
	Kind string
	Inv  Invalidation
	Err  error
}

// NewHooked is New with a hook that receives every bus event once applied.
func NewHooked(l2 cache.Driver, bus Bus, opts *Options, hook func(Event)) (*Driver, error) {
	return newDriver(l2, bus, opts, func(ev busEvent) { hook(Event{Kind: ev.kind, Inv: ev.inv, Err: ev.err}) })
}

// ID returns the driver's bus source id.
func (d *Driver) ID() uint64 { return d.id }

// SetRaceHooks sets hooks that tests use to order a promotion against an
// invalidation: bumped runs in bumpKeys once the fence moved (deleted
// false) and once L1 was deleted from (true); promoting runs in
// PromoteLocal between finding the entry and replacing it. Set them before
// the operations they observe.
func (d *Driver) SetRaceHooks(bumped func(deleted bool), promoting func()) {
	d.hookBumped, d.hookPromoting = bumped, promoting
}
