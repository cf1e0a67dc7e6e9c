package cache

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error returned by this package matches one of them
// with [errors.Is]; the typed errors below carry the details and are reached
// with [errors.As].
var (
	// ErrInvalidTTL is matched by a [*TTLError]: a TTL string that does not
	// parse, or a duration that is not at least one millisecond.
	ErrInvalidTTL = errors.New("cache: invalid TTL")
	// ErrInvalidKey is matched by a [*KeyError]: key arguments that cannot be
	// hashed (NaN, infinities, funcs, channels, cycles) or an invalid key.
	ErrInvalidKey = errors.New("cache: invalid key arguments")
	// ErrConfig is matched by a [*ConfigError]: invalid [Options] or
	// [Policy] values.
	ErrConfig = errors.New("cache: invalid configuration")
	// ErrClosed is returned by a [Cache] after [Cache.Close].
	ErrClosed = errors.New("cache: closed")
	// ErrCorruptEntry is matched by an [*EntryError]: bytes that are not a
	// valid entry, or a cached value that cannot be decoded.
	ErrCorruptEntry = errors.New("cache: corrupt entry")
	// ErrDriver is matched by a [*DriverError]: a driver operation failed or
	// timed out.
	ErrDriver = errors.New("cache: driver error")
	// ErrBreakerOpen is matched by the [*DriverError] of a driver call that
	// the circuit breaker refused: the driver failed repeatedly and was not
	// called (see [BreakerOptions]).
	ErrBreakerOpen = errors.New("cache: circuit breaker open")
)

// TTLError reports an invalid TTL. It matches [ErrInvalidTTL].
type TTLError struct {
	Input  string // the string or duration as given
	Reason string
}

// ValidUnits lists the units [ParseTTL] accepts.
var ValidUnits = []string{
	"ms", "millisecond", "milliseconds",
	"s", "sec", "second", "seconds",
	"m", "min", "minute", "minutes",
	"h", "hr", "hour", "hours",
	"d", "day", "days",
	"w", "week", "weeks",
	"month", "months",
}

func (e *TTLError) Error() string {
	return fmt.Sprintf("cache: invalid TTL %q: %s (expected \"<number> <unit>\" such as \"5 minutes\", with unit one of %s)",
		e.Input, e.Reason, strings.Join(ValidUnits, ", "))
}

func (e *TTLError) Is(target error) bool { return target == ErrInvalidTTL }

// KeyError reports key arguments that cannot be hashed. It matches
// [ErrInvalidKey].
type KeyError struct {
	Path   string // where in the arguments, such as "where.score"
	Reason string
}

func (e *KeyError) Error() string {
	if e.Path == "" {
		return "cache: invalid key arguments: " + e.Reason
	}
	return fmt.Sprintf("cache: invalid key arguments at %s: %s", e.Path, e.Reason)
}

func (e *KeyError) Is(target error) bool { return target == ErrInvalidKey }

// ConfigError reports an invalid option. It matches [ErrConfig].
type ConfigError struct {
	Field  string // such as "Options.Timeout" or "Policy.StaleWindow"
	Reason string
	Err    error // an underlying error, such as a [*TTLError]
}

func (e *ConfigError) Error() string {
	s := "cache: invalid " + e.Field + ": " + e.Reason
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ConfigError) Is(target error) bool { return target == ErrConfig }
func (e *ConfigError) Unwrap() error        { return e.Err }

// EntryError reports bytes that are not a valid entry, or a cached value that
// cannot be decoded into the requested type. It matches [ErrCorruptEntry].
type EntryError struct {
	Reason string
	Offset int   // byte offset where decoding stopped, when known
	Err    error // the codec's error, when there is one
}

func (e *EntryError) Error() string {
	s := fmt.Sprintf("cache: corrupt entry: %s", e.Reason)
	if e.Offset > 0 {
		s += fmt.Sprintf(" at offset %d", e.Offset)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *EntryError) Is(target error) bool { return target == ErrCorruptEntry }
func (e *EntryError) Unwrap() error        { return e.Err }

// DriverError wraps an error returned by a driver, or a driver call that took
// longer than [Options.Timeout]. It matches [ErrDriver] and unwraps to the
// driver's error (or [context.DeadlineExceeded]).
type DriverError struct {
	Driver string // the driver's Name
	Op     string // get, set, add, delete, clear, getMany
	Err    error
}

func (e *DriverError) Error() string {
	return fmt.Sprintf("cache: %s driver: %s: %v", e.Driver, e.Op, e.Err)
}

func (e *DriverError) Is(target error) bool { return target == ErrDriver }
func (e *DriverError) Unwrap() error        { return e.Err }

// PanicError is the value with which [Load] re-panics in every caller that
// waited for a loader that panicked: the loader runs on a goroutine of the
// cache's, so its panic is carried to the callers with the loader's stack,
// as golang.org/x/sync/singleflight does. Recover it with
// `if pe, ok := r.(*cache.PanicError); ok` to reach the original value;
// when that value is an error, errors.Is and errors.As see through it.
type PanicError struct {
	Value any    // what the loader panicked with
	Stack []byte // the loader's goroutine stack at the panic
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("cache: loader panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value when it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}
