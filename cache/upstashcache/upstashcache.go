package upstashcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/viborm/viborm-go/cache"
)

// Environment variables read by [FromEnv], as by @upstash/redis's
// Redis.fromEnv().
const (
	EnvURL   = "UPSTASH_REDIS_REST_URL"
	EnvToken = "UPSTASH_REDIS_REST_TOKEN"
)

// Sentinel errors.
var (
	// ErrAPI is matched by every [*APIError].
	ErrAPI = errors.New("upstashcache: API error")
	// ErrUnauthorized is matched by an [*APIError] with status 401 or 403:
	// a wrong or missing token, or one without the needed permission.
	ErrUnauthorized = errors.New("upstashcache: unauthorized")
	// ErrProtocol reports a reply that does not follow the REST protocol.
	ErrProtocol = errors.New("upstashcache: malformed reply")
	// ErrKey reports a key that the REST protocol cannot carry: JSON strings
	// hold UTF-8 text only.
	ErrKey = errors.New("upstashcache: key is not valid UTF-8")
)

// APIError is an error reply of the REST API: {"error":"…"}, with a non-2xx
// status for failures of the request itself (401 for a wrong token) or 200
// for a command that failed (inside a pipeline, say). It matches [ErrAPI],
// and [ErrUnauthorized] when Status is 401 or 403.
type APIError struct {
	Status  int    // the HTTP status code
	Message string // the "error" member, or the body when there is none
}

func (e *APIError) Error() string {
	return fmt.Sprintf("upstashcache: %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

func (e *APIError) Is(target error) bool {
	return target == ErrAPI || target == ErrUnauthorized && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// DefaultHTTPTimeout is the Timeout of the HTTP client a [Driver] makes
// when [Options.HTTPClient] is nil: the most any request may take, a
// backstop behind the context deadlines the cache applies to its calls.
const DefaultHTTPTimeout = 5 * time.Second

// defaultHTTPTimeout is DefaultHTTPTimeout; tests shorten it.
var defaultHTTPTimeout = DefaultHTTPTimeout

// Options configures a [Driver]. A nil *Options, and every zero field, means
// the default. New copies the options.
type Options struct {
	// HTTPClient sends the requests. Nil means a client of the driver's own,
	// with a Timeout of [DefaultHTTPTimeout] and a copy of
	// http.DefaultTransport, so that a gateway that accepts a request and
	// never answers cannot hold a call, and whatever waits on it, forever;
	// [Driver.Close] closes its idle connections. A client you pass is used
	// as it is and never closed: give it a Timeout (http.DefaultClient has
	// none). Either way each request also carries its call's context, which
	// the cache bounds with its Timeout.
	HTTPClient *http.Client

	// Codec encodes values that are not already a json.RawMessage. It must
	// produce JSON. Nil means [cache.JSON].
	Codec cache.Codec

	// ScanCount is the COUNT hint of each SCAN of Clear, and the number of
	// keys ClearDeps removes per request. Default 1000.
	ScanCount int

	// IndexPrefix starts the name of every key the driver keeps for its own
	// bookkeeping: the dependency sets of [Driver.IndexDeps],
	// "<IndexPrefix>d:<tag>". It must not start with "viborm:", where the
	// entries live. Default [DefaultIndexPrefix].
	IndexPrefix string
}

// Driver is a [cache.Driver] storing entries in Upstash Redis through its
// REST API. It is safe for concurrent use.
type Driver struct {
	url, auth string
	hc        *http.Client
	ownsHC    bool // hc was made by New, and Close closes its connections
	codec     cache.Codec
	scanCount string

	indexPrefix string
	depBatch    int
}

var (
	_ cache.Driver         = (*Driver)(nil)
	_ cache.Adder          = (*Driver)(nil)
	_ cache.BatchGetter    = (*Driver)(nil)
	_ cache.Closer         = (*Driver)(nil)
	_ cache.ContextHonorer = (*Driver)(nil)
)

// New returns a Driver for the database at url (such as
// "https://eu1-example-12345.upstash.io") authenticated by token. It reports
// a missing url or token, or a url that is not http(s), as a
// [*cache.ConfigError].
func New(url, token string, opts *Options) (*Driver, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	url = strings.TrimRight(url, "/")
	switch {
	case url == "":
		return nil, &cache.ConfigError{Field: "upstashcache.New url", Reason: "empty"}
	case !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://"):
		return nil, &cache.ConfigError{Field: "upstashcache.New url", Reason: "must start with https:// (or http://)"}
	case token == "":
		return nil, &cache.ConfigError{Field: "upstashcache.New token", Reason: "empty"}
	case o.ScanCount < 0:
		return nil, &cache.ConfigError{Field: "upstashcache.Options.ScanCount", Reason: "must not be negative"}
	case strings.HasPrefix(o.IndexPrefix, "viborm:"):
		return nil, &cache.ConfigError{Field: "upstashcache.Options.IndexPrefix", Reason: `must not start with "viborm:"`}
	}
	if o.IndexPrefix == "" {
		o.IndexPrefix = DefaultIndexPrefix
	}
	owns := o.HTTPClient == nil
	if owns {
		o.HTTPClient = &http.Client{Timeout: defaultHTTPTimeout}
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			o.HTTPClient.Transport = t.Clone() // a pool of its own, for Close
		}
	}
	if o.Codec == nil {
		o.Codec = cache.JSON
	}
	if o.ScanCount == 0 {
		o.ScanCount = 1000
	}
	return &Driver{url: url, auth: "Bearer " + token, hc: o.HTTPClient, ownsHC: owns, codec: o.Codec, scanCount: strconv.Itoa(o.ScanCount),
		indexPrefix: o.IndexPrefix, depBatch: o.ScanCount}, nil
}

// FromEnv is [New] with the url and token read from UPSTASH_REDIS_REST_URL
// and UPSTASH_REDIS_REST_TOKEN, like @upstash/redis's Redis.fromEnv().
func FromEnv(opts *Options) (*Driver, error) {
	url, token := os.Getenv(EnvURL), os.Getenv(EnvToken)
	if url == "" || token == "" {
		return nil, &cache.ConfigError{Field: "upstashcache.FromEnv", Reason: EnvURL + " and " + EnvToken + " must be set"}
	}
	return New(url, token, opts)
}

// Name returns "upstash".
func (d *Driver) Name() string { return "upstash" }

// HonorsContext reports true: every request is made with its context, which
// net/http applies to the whole exchange.
func (d *Driver) HonorsContext() bool { return true }

// Close closes the idle connections of the HTTP client New made when
// [Options.HTTPClient] was nil; a client passed in is the caller's, and Close
// leaves it alone.
func (d *Driver) Close() error {
	if d.ownsHC {
		d.hc.CloseIdleConnections()
	}
	return nil
}

// Get returns the entry stored under key (GET). A missing key is a miss;
// bytes that are not an entry return the [*cache.EntryError] of
// [cache.UnmarshalEntry].
func (d *Driver) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	if err := checkKeys(ctx, key); err != nil {
		return cache.Entry{}, false, err
	}
	res, err := d.do(ctx, []string{"GET", key})
	if err != nil {
		return cache.Entry{}, false, err
	}
	s, ok, err := stringOrNull("GET", res)
	if err != nil || !ok {
		return cache.Entry{}, false, err
	}
	e, err := cache.UnmarshalEntry([]byte(s))
	if err != nil {
		return cache.Entry{}, false, err
	}
	return e, true, nil
}

// GetMany returns the entries stored under keys with one MGET.
func (d *Driver) GetMany(ctx context.Context, keys []string) (map[string]cache.Entry, error) {
	if err := checkKeys(ctx, keys...); err != nil {
		return nil, err
	}
	out := make(map[string]cache.Entry, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	res, err := d.do(ctx, append([]string{"MGET"}, keys...))
	if err != nil {
		return nil, err
	}
	var vals []json.RawMessage
	if err := json.Unmarshal(res, &vals); err != nil || len(vals) != len(keys) {
		return nil, protocolError("MGET", res)
	}
	for i, v := range vals {
		s, ok, err := stringOrNull("MGET", v)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		e, err := cache.UnmarshalEntry([]byte(s))
		if err != nil {
			return nil, err
		}
		out[keys[i]] = e
	}
	return out, nil
}

// Set stores e, in VibORM's JSON form, under key for storageTTL
// (SET key value PX ms).
func (d *Driver) Set(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) error {
	if err := checkKeys(ctx, key); err != nil {
		return err
	}
	data, err := cache.MarshalEntry(e, d.codec)
	if err != nil {
		return err
	}
	_, err = d.do(ctx, []string{"SET", key, string(data), "PX", ms(storageTTL)})
	return err
}

// Add stores e under key for storageTTL only if no entry is stored there
// (SET key value NX PX ms), and reports whether it stored.
func (d *Driver) Add(ctx context.Context, key string, storageTTL time.Duration, e cache.Entry) (bool, error) {
	if err := checkKeys(ctx, key); err != nil {
		return false, err
	}
	data, err := cache.MarshalEntry(e, d.codec)
	if err != nil {
		return false, err
	}
	res, err := d.do(ctx, []string{"SET", key, string(data), "NX", "PX", ms(storageTTL)})
	if err != nil {
		return false, err
	}
	_, ok, err := stringOrNull("SET", res)
	return ok, err
}

// Delete removes keys with one DEL.
func (d *Driver) Delete(ctx context.Context, keys []string) error {
	if err := checkKeys(ctx, keys...); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	_, err := d.do(ctx, append([]string{"DEL"}, keys...))
	return err
}

// Clear removes every key starting with prefix: SCAN with the glob
// characters of prefix escaped, and a DEL of each batch found. Its cost is
// proportional to the size of the database.
func (d *Driver) Clear(ctx context.Context, prefix string) error {
	if err := checkKeys(ctx, prefix); err != nil {
		return err
	}
	if prefix == "" {
		return errors.New("upstashcache: empty prefix")
	}
	match := MatchPrefix(prefix)
	cursor := "0"
	for {
		res, err := d.do(ctx, []string{"SCAN", cursor, "MATCH", match, "COUNT", d.scanCount})
		if err != nil {
			return err
		}
		next, keys, err := scanReply(res)
		if err != nil {
			return err
		}
		kept := keys[:0]
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				kept = append(kept, k)
			}
		}
		if len(kept) > 0 {
			if _, err := d.do(ctx, append([]string{"DEL"}, kept...)); err != nil {
				return err
			}
		}
		if next == "0" {
			return nil
		}
		cursor = next
	}
}

// globEscaper escapes what Redis's glob matcher treats specially.
var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)

// MatchPrefix returns the SCAN MATCH pattern that matches exactly the keys
// starting with prefix.
func MatchPrefix(prefix string) string { return globEscaper.Replace(prefix) + "*" }

func ms(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }

func checkKeys(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return ErrKey
		}
	}
	return nil
}

// do sends one command and returns its result.
func (d *Driver) do(ctx context.Context, cmd []string) (json.RawMessage, error) {
	body, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	status, reply, err := d.post(ctx, d.url, body)
	if err != nil {
		return nil, err
	}
	return decodeResponse(status, reply)
}

// Pipeline sends commands through the /pipeline endpoint, in order, in one
// request, and returns each command's result or error (an [*APIError]).
// The error return reports a failure of the request as a whole.
func (d *Driver) Pipeline(ctx context.Context, cmds [][]string) ([]json.RawMessage, []error, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	body, err := json.Marshal(cmds)
	if err != nil {
		return nil, nil, err
	}
	status, reply, err := d.post(ctx, d.url+"/pipeline", body)
	if err != nil {
		return nil, nil, err
	}
	return decodePipeline(status, reply, len(cmds))
}

func (d *Driver) post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", d.auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, reply, nil
}

// reply is one {"result":…} or {"error":"…"} object.
type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *string         `json:"error"`
}

// decodeResponse interprets the reply to one command: its result, or an
// [*APIError].
func decodeResponse(status int, body []byte) (json.RawMessage, error) {
	var r reply
	err := json.Unmarshal(body, &r)
	if status < 200 || status > 299 {
		msg := strings.TrimSpace(string(body))
		if err == nil && r.Error != nil {
			msg = *r.Error
		}
		if len(msg) > 512 {
			msg = msg[:512] + "…"
		}
		return nil, &APIError{Status: status, Message: msg}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	return r.result(status)
}

func (r reply) result(status int) (json.RawMessage, error) {
	if r.Error != nil {
		return nil, &APIError{Status: status, Message: *r.Error}
	}
	if r.Result == nil {
		return nil, fmt.Errorf("%w: neither result nor error", ErrProtocol)
	}
	return r.Result, nil
}

// decodePipeline interprets the reply of /pipeline to n commands.
func decodePipeline(status int, body []byte, n int) ([]json.RawMessage, []error, error) {
	if status < 200 || status > 299 {
		_, err := decodeResponse(status, body)
		return nil, nil, err
	}
	var rs []reply
	if err := json.Unmarshal(body, &rs); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if len(rs) != n {
		return nil, nil, fmt.Errorf("%w: %d replies to %d commands", ErrProtocol, len(rs), n)
	}
	results := make([]json.RawMessage, n)
	errs := make([]error, n)
	for i, r := range rs {
		results[i], errs[i] = r.result(status)
	}
	return results, errs, nil
}

// stringOrNull reads a result that is a string or null.
func stringOrNull(cmd string, res json.RawMessage) (string, bool, error) {
	if string(res) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(res, &s); err != nil {
		return "", false, protocolError(cmd, res)
	}
	return s, true, nil
}

// scanReply reads SCAN's [cursor, [keys…]]; the cursor may be a string or a
// number.
func scanReply(res json.RawMessage) (string, []string, error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(res, &parts); err != nil || len(parts) != 2 {
		return "", nil, protocolError("SCAN", res)
	}
	var cursor string
	if err := json.Unmarshal(parts[0], &cursor); err != nil {
		var n json.Number
		if err := json.Unmarshal(parts[0], &n); err != nil {
			return "", nil, protocolError("SCAN", res)
		}
		cursor = n.String()
	}
	var keys []string
	if err := json.Unmarshal(parts[1], &keys); err != nil {
		return "", nil, protocolError("SCAN", res)
	}
	return cursor, keys, nil
}

func protocolError(cmd string, res json.RawMessage) error {
	s := string(res)
	if len(s) > 128 {
		s = s[:128] + "…"
	}
	return fmt.Errorf("%w: unexpected result of %s: %s", ErrProtocol, cmd, s)
}
