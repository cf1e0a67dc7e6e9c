package upstashcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/cachetest"
	"github.com/viborm/viborm-go/cache/upstashcache"
)

func newDriver(t testing.TB, url, token string) *upstashcache.Driver {
	t.Helper()
	d, err := upstashcache.New(url, token, &upstashcache.Options{HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestConformance(t *testing.T) {
	srv, _ := newGateway(t)
	cachetest.Run(t, func(t *testing.T) cache.Driver {
		return newDriver(t, srv.URL, testToken)
	}, &cachetest.Options{UTF8Keys: true})
}

var t0 = time.UnixMilli(1_700_000_000_123)

// runKey returns name with a suffix of this test run's own, for keys written
// to the shared Redis: concurrent runs never meet, and each deletes its own.
func runKey(name string) string {
	return fmt.Sprintf("%s:%d-%d", name, os.Getpid(), time.Now().UnixNano())
}

// recorded is one request seen by a recording server.
type recorded struct {
	Method, Path, Auth, ContentType, Body string
}

// recorder answers every request with the next canned reply and records it.
func recorder(t *testing.T, replies ...string) (*httptest.Server, *[]recorded) {
	var mu sync.Mutex
	var got []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, recorded{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(b)})
		reply := `{"result":null}`
		if len(got) <= len(replies) {
			reply = replies[len(got)-1]
		}
		mu.Unlock()
		io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

// TestRequestsOnTheWire pins the exact requests the driver sends.
func TestRequestsOnTheWire(t *testing.T) {
	ctx := context.Background()
	e := cache.NewEntry(map[string]int{"id": 1}, t0, time.Minute)
	entryJSON := `{\"value\":{\"id\":1},\"createdAt\":1700000000123,\"ttl\":60000}`
	tests := []struct {
		name    string
		replies []string
		call    func(d *upstashcache.Driver) error
		want    []string // bodies, all POSTed to "/"
	}{
		{"Get", []string{`{"result":null}`}, func(d *upstashcache.Driver) error {
			_, ok, err := d.Get(ctx, "viborm:user:findMany:h")
			if ok {
				return errors.New("hit on null")
			}
			return err
		}, []string{`["GET","viborm:user:findMany:h"]`}},
		{"Set", []string{`{"result":"OK"}`}, func(d *upstashcache.Driver) error {
			return d.Set(ctx, "k", 90*time.Second, e)
		}, []string{`["SET","k","` + entryJSON + `","PX","90000"]`}},
		{"Add", []string{`{"result":"OK"}`}, func(d *upstashcache.Driver) error {
			ok, err := d.Add(ctx, "k:reval", 30*time.Second, e)
			if !ok {
				return errors.New("Add = false on OK")
			}
			return err
		}, []string{`["SET","k:reval","` + entryJSON + `","NX","PX","30000"]`}},
		{"AddPresent", []string{`{"result":null}`}, func(d *upstashcache.Driver) error {
			ok, err := d.Add(ctx, "k", 1500*time.Microsecond, e)
			if ok {
				return errors.New("Add = true on null")
			}
			return err
		}, []string{`["SET","k","` + entryJSON + `","NX","PX","1"]`}},
		{"Delete", []string{`{"result":2}`}, func(d *upstashcache.Driver) error {
			return d.Delete(ctx, []string{"a", "b"})
		}, []string{`["DEL","a","b"]`}},
		{"DeleteNone", nil, func(d *upstashcache.Driver) error {
			return d.Delete(ctx, nil)
		}, nil},
		{"GetMany", []string{`{"result":[null,"{\"value\":1,\"createdAt\":1,\"ttl\":5}"]}`}, func(d *upstashcache.Driver) error {
			m, err := d.GetMany(ctx, []string{"a", "b"})
			if len(m) != 1 || string(m["b"].Value.(json.RawMessage)) != "1" {
				return errors.New("GetMany misread the reply")
			}
			return err
		}, []string{`["MGET","a","b"]`}},
		{"Clear", []string{`{"result":["7",["viborm:a*:1"]]}`, `{"result":1}`, `{"result":["0",["viborm:a*:2","viborm:a*x"]]}`, `{"result":2}`}, func(d *upstashcache.Driver) error {
			return d.Clear(ctx, "viborm:a*")
		}, []string{
			`["SCAN","0","MATCH","viborm:a\\**","COUNT","1000"]`,
			`["DEL","viborm:a*:1"]`,
			`["SCAN","7","MATCH","viborm:a\\**","COUNT","1000"]`,
			`["DEL","viborm:a*:2","viborm:a*x"]`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, got := recorder(t, tc.replies...)
			d := newDriver(t, srv.URL+"/", "s3cr3t")
			if err := tc.call(d); err != nil {
				t.Fatal(err)
			}
			var bodies []string
			for _, r := range *got {
				if r.Method != "POST" || r.Path != "/" || r.Auth != "Bearer s3cr3t" || r.ContentType != "application/json" {
					t.Errorf("request %s %s Authorization=%q Content-Type=%q, want POST / Bearer s3cr3t application/json", r.Method, r.Path, r.Auth, r.ContentType)
				}
				bodies = append(bodies, r.Body)
			}
			if !slices.Equal(bodies, tc.want) {
				t.Errorf("bodies:\n got %q\nwant %q", bodies, tc.want)
			}
		})
	}
}

func TestPipelineOnTheWire(t *testing.T) {
	srv, got := recorder(t, `[{"result":"OK"},{"error":"WRONGTYPE Operation against a key holding the wrong kind of value"}]`)
	d := newDriver(t, srv.URL, "tok")
	res, errs, err := d.Pipeline(context.Background(), [][]string{{"SET", "a", "1"}, {"LPUSH", "a", "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if (*got)[0].Path != "/pipeline" || (*got)[0].Body != `[["SET","a","1"],["LPUSH","a","x"]]` {
		t.Errorf("request %+v", (*got)[0])
	}
	if string(res[0]) != `"OK"` || errs[0] != nil {
		t.Errorf("first = %s, %v", res[0], errs[0])
	}
	var apiErr *upstashcache.APIError
	if !errors.As(errs[1], &apiErr) || apiErr.Status != 200 || apiErr.Message[:9] != "WRONGTYPE" {
		t.Errorf("second error = %v", errs[1])
	}
}

func TestWrongToken(t *testing.T) {
	srv, _ := newGateway(t)
	d := newDriver(t, srv.URL, "wrong")
	_, _, err := d.Get(context.Background(), "k")
	if !errors.Is(err, upstashcache.ErrUnauthorized) || !errors.Is(err, upstashcache.ErrAPI) {
		t.Fatalf("Get with a wrong token = %v, want ErrUnauthorized", err)
	}
	var apiErr *upstashcache.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Message != "Unauthorized" {
		t.Errorf("error = %#v", err)
	}
}

func TestErrorReplies(t *testing.T) {
	srv, rdb := newGateway(t)
	ctx := context.Background()
	d := newDriver(t, srv.URL, testToken)
	list := runKey("upstashcache:list")
	rdb.LPush(ctx, list, "x")
	_, _, err := d.Get(ctx, list)
	var apiErr *upstashcache.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || errors.Is(err, upstashcache.ErrUnauthorized) {
		t.Errorf("GET of a list = %v, want a 400 APIError", err)
	}
	rdb.Del(ctx, list)

	for _, body := range []string{`not json`, `{}`, `{"result":5}`} {
		rec, _ := recorder(t, body)
		_, _, err := newDriver(t, rec.URL, "t").Get(ctx, "k")
		if !errors.Is(err, upstashcache.ErrProtocol) {
			t.Errorf("reply %s: error = %v, want ErrProtocol", body, err)
		}
	}
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream down", http.StatusBadGateway)
	}))
	defer rec.Close()
	_, _, err = newDriver(t, rec.URL, "t").Get(ctx, "k")
	if !errors.As(err, &apiErr) || apiErr.Status != 502 || apiErr.Message != "upstream down" {
		t.Errorf("502 = %v", err)
	}
}

func TestCorruptValue(t *testing.T) {
	srv, rdb := newGateway(t)
	ctx := context.Background()
	d := newDriver(t, srv.URL, testToken)
	key := runKey("viborm:upstash:corrupt")
	rdb.Set(ctx, key, "garbage", time.Minute)
	defer rdb.Del(ctx, key)
	if _, _, err := d.Get(ctx, key); !errors.Is(err, cache.ErrCorruptEntry) {
		t.Errorf("Get(corrupt) = %v, want ErrCorruptEntry", err)
	}
}

func TestNonUTF8KeyRejected(t *testing.T) {
	d := newDriver(t, "http://127.0.0.1:1", "t")
	if _, _, err := d.Get(context.Background(), "viborm:\xff"); !errors.Is(err, upstashcache.ErrKey) {
		t.Errorf("Get(non-UTF-8) = %v, want ErrKey", err)
	}
}

func TestNewAndFromEnv(t *testing.T) {
	for _, c := range [][2]string{{"", "t"}, {"https://x", ""}, {"ftp://x", "t"}} {
		if _, err := upstashcache.New(c[0], c[1], nil); !errors.Is(err, cache.ErrConfig) {
			t.Errorf("New(%q, %q) = %v, want ErrConfig", c[0], c[1], err)
		}
	}
	t.Setenv(upstashcache.EnvURL, "")
	t.Setenv(upstashcache.EnvToken, "")
	if _, err := upstashcache.FromEnv(nil); !errors.Is(err, cache.ErrConfig) {
		t.Errorf("FromEnv without env = %v", err)
	}
	srv, got := recorder(t, `{"result":null}`)
	t.Setenv(upstashcache.EnvURL, srv.URL)
	t.Setenv(upstashcache.EnvToken, "from-env")
	d, err := upstashcache.FromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Get(context.Background(), "k")
	if (*got)[0].Auth != "Bearer from-env" {
		t.Errorf("Authorization = %q", (*got)[0].Auth)
	}
}

// hungGateway returns the URL of a server that accepts every request and
// answers none until the test ends.
func hungGateway(t *testing.T) string {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: Close waits for handlers
	return srv.URL
}

// TestDefaultClientTimesOutAHungGateway guards against the default HTTP
// client having no timeout: a call with no deadline of its own, to a gateway
// that never answers, must fail with a timeout instead of blocking.
func TestDefaultClientTimesOutAHungGateway(t *testing.T) {
	d, err := upstashcache.New("https://x.example", "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := d.HTTPClient()
	if hc == http.DefaultClient || hc.Timeout != upstashcache.DefaultHTTPTimeout {
		t.Errorf("default HTTP client: DefaultClient=%v Timeout=%v, want a client of its own with Timeout %v",
			hc == http.DefaultClient, hc.Timeout, upstashcache.DefaultHTTPTimeout)
	}

	upstashcache.SetDefaultHTTPTimeout(t, 50*time.Millisecond)
	url := hungGateway(t)
	d, err = upstashcache.New(url, "t", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	done := make(chan error, 1)
	go func() {
		// No deadline of its own: like a write's invalidation that a
		// caller handed context.WithoutCancel.
		done <- d.Delete(context.Background(), []string{"viborm:k"})
	}()
	select {
	case err := <-done:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("Delete against a hung gateway = %v, want a timeout error", err)
		}
	case <-time.After(30 * time.Second): // generous: the timeout is 50ms
		t.Fatal("Delete against a hung gateway never returned: the default HTTP client has no timeout")
	}
}

// TestUserHTTPClientUntouched checks that a client passed in Options is used
// as it is: not replaced, its Timeout not set, and a call bounded by its
// context alone.
func TestUserHTTPClientUntouched(t *testing.T) {
	hc := &http.Client{}
	d, err := upstashcache.New(hungGateway(t), "t", &upstashcache.Options{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	if d.HTTPClient() != hc || hc.Timeout != 0 || hc.Transport != nil {
		t.Errorf("the user's client was replaced or changed: same=%v Timeout=%v Transport=%v", d.HTTPClient() == hc, hc.Timeout, hc.Transport)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := d.Get(ctx, "viborm:k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Get under a 50ms context against a hung gateway = %v, want context.DeadlineExceeded", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}
