package cache

import (
	"encoding/json"
	"strconv"
	"time"
)

// Entry is one cached value with the facts needed to judge its freshness:
// VibORM's CacheEntry. Freshness is judged from the entry (an entry is stale
// once its age exceeds TTL), never from the backend's expiry, so backends
// with coarse or eventual expiry stay correct.
//
// Its JSON form, produced by [MarshalEntry], is exactly VibORM's
// {"value":…,"createdAt":<unix ms>,"ttl":<ms>}, so Go and TypeScript services
// can read each other's entries in one Redis.
type Entry struct {
	// Value is the cached value. Drivers that keep values in memory return it
	// as it was stored; drivers that serialize return a [json.RawMessage].
	// Either way it must be treated as read-only.
	Value any
	// CreatedAt is when the value was produced, with millisecond precision.
	CreatedAt time.Time
	// TTL is how long the value is fresh, with millisecond precision.
	TTL time.Duration
}

// NewEntry returns an Entry whose CreatedAt and TTL are truncated to the
// millisecond precision of the entry's JSON form, so an entry compares equal
// after a round trip through any driver.
func NewEntry(value any, createdAt time.Time, ttl time.Duration) Entry {
	return Entry{Value: value, CreatedAt: time.UnixMilli(createdAt.UnixMilli()), TTL: ttl.Truncate(time.Millisecond)}
}

// Age returns how old the entry is at now.
func (e Entry) Age(now time.Time) time.Duration { return now.Sub(e.CreatedAt) }

// Fresh reports whether the entry is still fresh at now: its age is at most
// its TTL.
func (e Entry) Fresh(now time.Time) bool { return e.Age(now) <= e.TTL }

// Codec encodes and decodes values for drivers that serialize entries. It
// must produce and accept JSON, so that entries stay readable by VibORM.
// The zero [Options.Codec] is [JSON], backed by encoding/json; a faster
// JSON library can be plugged in through this interface.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the [Codec] backed by the standard library's encoding/json.
var JSON Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// MarshalEntry returns e in VibORM's JSON form
// {"value":…,"createdAt":<unix ms>,"ttl":<ms>}. A Value that is a
// [json.RawMessage] is written as it is; any other Value is encoded with
// codec, or with [JSON] when codec is nil.
func MarshalEntry(e Entry, codec Codec) ([]byte, error) {
	var value []byte
	switch v := e.Value.(type) {
	case json.RawMessage:
		value = v
	default:
		if codec == nil {
			codec = JSON
		}
		b, err := codec.Marshal(v)
		if err != nil {
			return nil, &EntryError{Reason: "value cannot be encoded", Err: err}
		}
		value = b
	}
	if len(value) == 0 {
		value = []byte("null")
	}
	buf := make([]byte, 0, len(value)+48)
	buf = append(buf, `{"value":`...)
	buf = append(buf, value...)
	buf = append(buf, `,"createdAt":`...)
	buf = strconv.AppendInt(buf, e.CreatedAt.UnixMilli(), 10)
	buf = append(buf, `,"ttl":`...)
	buf = strconv.AppendInt(buf, e.TTL.Milliseconds(), 10)
	buf = append(buf, '}')
	return buf, nil
}

// UnmarshalEntry decodes an entry in VibORM's JSON form. The members may come
// in any order and surrounding white space is allowed. The returned Value is
// a [json.RawMessage] that aliases data; it is decoded into a Go value later,
// by [Cache], with its [Codec].
//
// UnmarshalEntry checks the envelope: an object with exactly the members
// value, createdAt (an integer number of Unix milliseconds) and ttl (a
// positive integer number of milliseconds). It checks that the value is one
// well-delimited JSON value but does not validate it fully; a value that is
// not valid JSON fails when it is decoded. Anything else returns an
// [*EntryError], which matches [ErrCorruptEntry]. It never panics.
func UnmarshalEntry(data []byte) (Entry, error) {
	p := entryParser{data: data}
	e, err := p.parse()
	if err != nil {
		return Entry{}, err
	}
	return e, nil
}

type entryParser struct {
	data []byte
	pos  int
}

func (p *entryParser) fail(reason string) error {
	return &EntryError{Reason: reason, Offset: p.pos}
}

func (p *entryParser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *entryParser) parse() (Entry, error) {
	var (
		e                          Entry
		haveValue, haveAt, haveTTL bool
	)
	p.ws()
	if p.pos >= len(p.data) || p.data[p.pos] != '{' {
		return e, p.fail("not a JSON object")
	}
	p.pos++
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		return e, p.fail("missing value")
	}
	for {
		p.ws()
		name, ok := p.memberName()
		if !ok {
			return e, p.fail("bad member name")
		}
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return e, p.fail("expected ':'")
		}
		p.pos++
		p.ws()
		switch name {
		case "value":
			if haveValue {
				return e, p.fail("duplicate value")
			}
			start := p.pos
			if !p.skipValue(0) {
				return e, p.fail("malformed value")
			}
			e.Value = json.RawMessage(p.data[start:p.pos:p.pos])
			haveValue = true
		case "createdAt":
			if haveAt {
				return e, p.fail("duplicate createdAt")
			}
			n, ok := p.integer()
			if !ok {
				return e, p.fail("createdAt is not an integer")
			}
			e.CreatedAt = time.UnixMilli(n)
			haveAt = true
		case "ttl":
			if haveTTL {
				return e, p.fail("duplicate ttl")
			}
			n, ok := p.integer()
			if !ok || n <= 0 || n > int64(1<<63-1)/int64(time.Millisecond) {
				return e, p.fail("ttl is not a positive integer")
			}
			e.TTL = time.Duration(n) * time.Millisecond
			haveTTL = true
		default:
			return e, p.fail("unknown member")
		}
		p.ws()
		if p.pos >= len(p.data) {
			return e, p.fail("truncated")
		}
		if p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.data[p.pos] != '}' {
			return e, p.fail("expected ',' or '}'")
		}
		p.pos++
		break
	}
	p.ws()
	if p.pos != len(p.data) {
		return e, p.fail("trailing data")
	}
	switch {
	case !haveValue:
		return e, p.fail("missing value")
	case !haveAt:
		return e, p.fail("missing createdAt")
	case !haveTTL:
		return e, p.fail("missing ttl")
	}
	return e, nil
}

// memberName reads a member name. Only the three plain names are accepted, so
// escapes are not decoded: a name with escapes is reported as unknown.
func (p *entryParser) memberName() (string, bool) {
	if p.pos >= len(p.data) || p.data[p.pos] != '"' {
		return "", false
	}
	start := p.pos + 1
	if !p.skipString() {
		return "", false
	}
	return string(p.data[start : p.pos-1]), true
}

// skipString advances past a JSON string starting at p.pos (a quote).
func (p *entryParser) skipString() bool {
	p.pos++ // opening quote
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '\\':
			p.pos += 2
		case c == '"':
			p.pos++
			return true
		case c < 0x20:
			return false
		default:
			p.pos++
		}
	}
	return false
}

const maxEntryDepth = 10000

// skipValue advances past one JSON value. It checks delimiters, strings and
// literals, but leaves the full grammar of numbers and nesting to the decoder.
func (p *entryParser) skipValue(depth int) bool {
	if depth > maxEntryDepth || p.pos >= len(p.data) {
		return false
	}
	switch c := p.data[p.pos]; {
	case c == '"':
		return p.skipString()
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.pos++
		p.ws()
		if p.pos < len(p.data) && p.data[p.pos] == closer {
			p.pos++
			return true
		}
		for {
			p.ws()
			if c == '{' {
				if p.pos >= len(p.data) || p.data[p.pos] != '"' || !p.skipString() {
					return false
				}
				p.ws()
				if p.pos >= len(p.data) || p.data[p.pos] != ':' {
					return false
				}
				p.pos++
				p.ws()
			}
			if !p.skipValue(depth + 1) {
				return false
			}
			p.ws()
			if p.pos >= len(p.data) {
				return false
			}
			switch p.data[p.pos] {
			case ',':
				p.pos++
			case closer:
				p.pos++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.pos
		for p.pos < len(p.data) {
			switch b := p.data[p.pos]; {
			case b >= '0' && b <= '9', b == '-', b == '+', b == '.', b == 'e', b == 'E':
				p.pos++
				continue
			}
			break
		}
		return p.pos > start
	default:
		return false
	}
}

func (p *entryParser) literal(s string) bool {
	if len(p.data)-p.pos < len(s) || string(p.data[p.pos:p.pos+len(s)]) != s {
		return false
	}
	p.pos += len(s)
	return true
}

// integer reads a JSON number that is an integer within int64. A fraction of
// zero (1.0) and an exponent that keeps it integral (1.7e12) are accepted,
// since JavaScript does not distinguish them.
func (p *entryParser) integer() (int64, bool) {
	start := p.pos
	for p.pos < len(p.data) {
		b := p.data[p.pos]
		if (b >= '0' && b <= '9') || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E' {
			p.pos++
			continue
		}
		break
	}
	if p.pos == start || !json.Valid(p.data[start:p.pos]) {
		return 0, false
	}
	s := string(p.data[start:p.pos])
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != float64(int64(f)) || f >= 1<<63 || f < -(1<<63) {
		return 0, false
	}
	return int64(f), true
}
