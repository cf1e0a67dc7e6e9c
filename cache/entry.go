package cache

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
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

// CompactMarshaler is implemented by values that have, besides their JSON
// form, a compact one for caches that opt into it with [CompactJSON]. The
// compact form must still be JSON (VibORM's ORM writes its cached rows as
// one JSON string holding a binary encoding), and the value's own decoding
// must accept both forms.
type CompactMarshaler interface {
	MarshalCompactJSON() ([]byte, error)
}

// CompactJSON is the [Codec] that writes a [CompactMarshaler]'s compact form
// and anything else as [JSON] does; it reads as [JSON]. Set it as a
// serializing driver's codec to store the ORM's cached rows in their compact
// form, which is a third smaller and decodes in under half the CPU time.
// The entry stays VibORM's {"value":…,"createdAt":…,"ttl":…}, but its value
// is then a string that a TypeScript VibORM cannot read as rows: use it
// where only Go services read the ORM's entries (the ORM's default keys
// differ from TypeScript's anyway). A Go process without the compact
// decoder reads such an entry as a miss.
var CompactJSON Codec = compactCodec{}

type compactCodec struct{}

func (compactCodec) Marshal(v any) ([]byte, error) {
	if m, ok := v.(CompactMarshaler); ok {
		b, err := m.MarshalCompactJSON()
		if err == nil && !json.Valid(b) {
			err = fmt.Errorf("cache: %T wrote a compact form that is not JSON", v)
		}
		return b, err
	}
	return json.Marshal(v)
}

func (compactCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

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
//
// The form that [MarshalEntry] writes, which is also what TypeScript's
// JSON.stringify writes, takes a fast path: the value is found between the
// fixed prefix and the two integer members at the end, and is checked by a
// flat scanner rather than the recursive one. The result is the same as the
// general parser's for every input: anything the fast path does not accept
// is handed to the general parser, which has the last word.
func UnmarshalEntry(data []byte) (Entry, error) {
	if e, ok := fastEntry(data); ok {
		return e, nil
	}
	return parseEntry(data)
}

// parseEntry is the general parser of UnmarshalEntry.
func parseEntry(data []byte) (Entry, error) {
	p := entryParser{data: data}
	e, err := p.parse()
	if err != nil {
		return Entry{}, err
	}
	return e, nil
}

// maxTTLMillis is the largest ttl, in milliseconds, that a time.Duration
// holds.
const maxTTLMillis = int64(1<<63-1) / int64(time.Millisecond)

const (
	entryPrefix    = `{"value":`
	entryCreatedAt = `,"createdAt":`
	entryTTL       = `,"ttl":`
)

// fastEntry reads data when it is exactly in the layout MarshalEntry
// writes: {"value":V,"createdAt":A,"ttl":T} with no white space, A and T
// canonical integers of at most 18 digits, T positive, and V one JSON value
// that entryParser.skipValue would consume exactly (see fastValue). It
// returns ok == false for anything else, valid or not, leaving the verdict
// to parseEntry; when it returns ok == true, parseEntry returns the same
// Entry, with Value aliasing the same bytes of data.
//
// The value is located from both ends, so the members' names need no
// parsing: the last '}' closes the object; the digits before it are the
// last member's value, and the unescaped quote of ,"ttl": (a quote preceded
// by a comma cannot be inside a string) opens its name; and so for
// createdAt. What lies between {"value": and ,"createdAt": is then the
// value, provided it is one well-delimited JSON value.
func fastEntry(data []byte) (Entry, bool) {
	n := len(data)
	if n < len(entryPrefix)+1+len(entryCreatedAt)+1+len(entryTTL)+1+1 ||
		string(data[:len(entryPrefix)]) != entryPrefix || data[n-1] != '}' {
		return Entry{}, false
	}
	ttl, i, ok := trailingInt(data, n-1)
	if !ok || ttl <= 0 || ttl > maxTTLMillis || i < len(entryTTL) || string(data[i-len(entryTTL):i]) != entryTTL {
		return Entry{}, false
	}
	i -= len(entryTTL)
	at, j, ok := trailingInt(data, i)
	if !ok || j < len(entryPrefix)+len(entryCreatedAt) || string(data[j-len(entryCreatedAt):j]) != entryCreatedAt {
		return Entry{}, false
	}
	v := data[len(entryPrefix) : j-len(entryCreatedAt) : j-len(entryCreatedAt)]
	if !fastValue(v) {
		return Entry{}, false
	}
	return Entry{Value: json.RawMessage(v), CreatedAt: time.UnixMilli(at), TTL: time.Duration(ttl) * time.Millisecond}, true
}

// trailingInt reads the canonical JSON integer (-?(0|[1-9][0-9]*), at most
// 18 digits, so that it cannot overflow) that ends at data[end], exclusive,
// and returns it with the index where it starts.
func trailingInt(data []byte, end int) (n int64, start int, ok bool) {
	start = end
	for start > 0 && data[start-1] >= '0' && data[start-1] <= '9' {
		start--
	}
	digits := data[start:end]
	if len(digits) == 0 || len(digits) > 18 || (digits[0] == '0' && len(digits) > 1) {
		return 0, 0, false
	}
	for _, c := range digits {
		n = n*10 + int64(c-'0')
	}
	if start > 0 && data[start-1] == '-' {
		start--
		n = -n
	}
	return n, start, true
}

// fastMaxDepth bounds the nesting fastValue follows; deeper values go to the
// general parser, whose bound is maxEntryDepth.
const fastMaxDepth = 512

// strStop marks the bytes that end a run of plain string content: the
// quote, the backslash and the control characters.
var strStop = [256]bool{'"': true, '\\': true}

func init() {
	for c := range 0x20 {
		strStop[c] = true
	}
}

// fastValue reports whether v is exactly one JSON value as
// entryParser.skipValue checks it (delimiters, strings and literals; a
// number is any run of its characters), with no white space around it and
// at most fastMaxDepth levels of nesting. It is a flat loop with an
// explicit stack, where skipValue recurses. false means "not sure", never
// "corrupt".
func fastValue(v []byte) bool {
	var objs [fastMaxDepth / 64]uint64 // bit d: the container at depth d is an object
	depth := 0
	i, n := 0, len(v)
	for {
		// A value starts at v[i].
		if i >= n {
			return false
		}
		switch c := v[i]; c {
		case '"':
			if i = fastString(v, i); i < 0 {
				return false
			}
		case '{', '[':
			i = fastWS(v, i+1)
			if i < n && (v[i] == c+2) { // '{'+2 == '}', '['+2 == ']'
				i++
				break
			}
			if depth == fastMaxDepth {
				return false
			}
			if c == '{' {
				objs[depth/64] |= 1 << (depth % 64)
				if i = fastKey(v, i); i < 0 {
					return false
				}
			} else {
				objs[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			continue
		case 't':
			if n-i < 4 || string(v[i:i+4]) != "true" {
				return false
			}
			i += 4
		case 'f':
			if n-i < 5 || string(v[i:i+5]) != "false" {
				return false
			}
			i += 5
		case 'n':
			if n-i < 4 || string(v[i:i+4]) != "null" {
				return false
			}
			i += 4
		default:
			if c != '-' && (c < '0' || c > '9') {
				return false
			}
			for i < n {
				if b := v[i]; (b >= '0' && b <= '9') || b == '-' || b == '+' || b == '.' || b == 'e' || b == 'E' {
					i++
					continue
				}
				break
			}
		}
		// A value ended at v[i]: close containers until another value
		// follows a comma.
		for {
			if depth == 0 {
				return i == n
			}
			if i = fastWS(v, i); i >= n {
				return false
			}
			obj := objs[(depth-1)/64]&(1<<((depth-1)%64)) != 0
			if c := v[i]; c == ',' {
				i = fastWS(v, i+1)
				if obj {
					if i = fastKey(v, i); i < 0 {
						return false
					}
				}
				break
			} else if (obj && c == '}') || (!obj && c == ']') {
				i++
				depth--
				continue
			}
			return false
		}
	}
}

const (
	lsb = 0x0101010101010101 // the low bit of each byte
	msb = 0x8080808080808080 // the high bit of each byte
)

// fastString returns the index after the JSON string that opens at v[i],
// or -1.
func fastString(v []byte, i int) int {
	i++
	for i < len(v) {
		// Eight bytes at a time while none of them stops the run: a byte
		// of x^quotes (or x^backslashes) is zero where x has a quote (a
		// backslash), and a byte of x below 0x20 is a control character;
		// the lowest byte flagged by these tests is exact.
		for i+8 <= len(v) {
			x := binary.LittleEndian.Uint64(v[i:])
			q, bs := x^(lsb*'"'), x^(lsb*'\\')
			m := ((q - lsb) &^ q) | ((bs - lsb) &^ bs) | ((x - lsb*0x20) &^ x)
			if m &= msb; m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(v) {
			break
		}
		c := v[i]
		if !strStop[c] {
			i++
			continue
		}
		switch c {
		case '"':
			return i + 1
		case '\\':
			i += 2
		default:
			return -1
		}
	}
	return -1
}

// fastKey reads a member name, white space and the colon at v[i], and
// returns the index after the white space that follows, or -1.
func fastKey(v []byte, i int) int {
	if i >= len(v) || v[i] != '"' {
		return -1
	}
	if i = fastString(v, i); i < 0 {
		return -1
	}
	if i = fastWS(v, i); i >= len(v) || v[i] != ':' {
		return -1
	}
	return fastWS(v, i+1)
}

func fastWS(v []byte, i int) int {
	for i < len(v) {
		switch v[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
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
			if !ok || n <= 0 || n > maxTTLMillis {
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
