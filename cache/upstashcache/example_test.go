package upstashcache_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/upstashcache"
)

// Needs an Upstash database, so it is compiled but not run.
func ExampleFromEnv() {
	d, err := upstashcache.FromEnv(nil) // UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN
	if err != nil {
		panic(err)
	}
	c, err := cache.New(d, &cache.Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer c.Close()
}

// The requests the driver sends, shown against a stand-in server.
func ExampleNew() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Printf("%s %s %s\n%s\n", r.Method, r.URL.Path, r.Header.Get("Authorization"), body)
		io.WriteString(w, `{"result":"OK"}`)
	}))
	defer srv.Close()

	d, err := upstashcache.New(srv.URL, "my-token", nil)
	if err != nil {
		panic(err)
	}
	e := cache.NewEntry([]int{1, 2}, time.UnixMilli(1700000000000), time.Minute)
	if err := d.Set(context.Background(), "viborm:post:count:x", 2*time.Minute, e); err != nil {
		panic(err)
	}
	// Output:
	// POST / Bearer my-token
	// ["SET","viborm:post:count:x","{\"value\":[1,2],\"createdAt\":1700000000000,\"ttl\":60000}","PX","120000"]
}
