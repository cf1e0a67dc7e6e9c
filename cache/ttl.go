package cache

import (
	"math"
	"strconv"
	"strings"
	"time"
)

var ttlUnits = map[string]time.Duration{
	"ms": time.Millisecond, "millisecond": time.Millisecond, "milliseconds": time.Millisecond,
	"s": time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	"month": 30 * 24 * time.Hour, "months": 30 * 24 * time.Hour,
}

// ParseTTL parses VibORM's TTL strings: a non-negative decimal number with an
// optional fraction, optional white space, and a unit ("5 minutes", "2.5h",
// "1 week", "30s", "100ms"). Case and surrounding white space are ignored.
// The units are those of [ValidUnits]; a month is 30 days. The result is
// truncated to whole milliseconds and must be at least one millisecond.
//
// Anything else returns a [*TTLError] naming the input and the valid units.
// Signs, exponents, compound forms ("1h 30m") and words ("five") are
// rejected, as VibORM rejects them.
func ParseTTL(s string) (time.Duration, error) {
	in := strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(in) && in[i] >= '0' && in[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, &TTLError{Input: s, Reason: "it must start with a number"}
	}
	if i < len(in) && in[i] == '.' {
		j := i + 1
		for j < len(in) && in[j] >= '0' && in[j] <= '9' {
			j++
		}
		if j == i+1 {
			return 0, &TTLError{Input: s, Reason: "a decimal point must be followed by digits"}
		}
		i = j
	}
	num := in[:i]
	rest := strings.TrimLeft(in[i:], " \t\n\r\v\f")
	for _, r := range rest {
		if r < 'a' || r > 'z' {
			return 0, &TTLError{Input: s, Reason: "expected a single number followed by a unit"}
		}
	}
	if rest == "" {
		return 0, &TTLError{Input: s, Reason: "missing unit"}
	}
	unit, ok := ttlUnits[rest]
	if !ok {
		return 0, &TTLError{Input: s, Reason: "unknown unit " + strconv.Quote(rest)}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, &TTLError{Input: s, Reason: "bad number"}
	}
	ms := math.Floor(v * float64(unit/time.Millisecond))
	if ms < 1 {
		return 0, &TTLError{Input: s, Reason: "it must be at least 1 millisecond"}
	}
	if ms > float64(math.MaxInt64/int64(time.Millisecond)) || ms > 1<<53 {
		return 0, &TTLError{Input: s, Reason: "it is too long"}
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// MustParseTTL is like [ParseTTL] but panics on error. It is meant for
// constants in program initialization, such as
// var hourly = cache.MustParseTTL("1 hour").
func MustParseTTL(s string) time.Duration {
	d, err := ParseTTL(s)
	if err != nil {
		panic(err)
	}
	return d
}

// checkTTL validates a TTL given as a duration.
func checkTTL(d time.Duration) error {
	if d < time.Millisecond {
		return &TTLError{Input: d.String(), Reason: "it must be at least 1 millisecond"}
	}
	return nil
}
