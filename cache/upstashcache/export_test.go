package upstashcache

import (
	"net/http"
	"testing"
	"time"
)

// DecodeResponse exposes the reply decoder to the fuzz test.
var DecodeResponse = decodeResponse

// DecodePipeline exposes the pipeline reply decoder to the fuzz test.
var DecodePipeline = decodePipeline

// HTTPClient returns the HTTP client the driver sends its requests with.
func (d *Driver) HTTPClient() *http.Client { return d.hc }

// SetDefaultHTTPTimeout makes the drivers that New makes until the test ends
// use d instead of DefaultHTTPTimeout.
func SetDefaultHTTPTimeout(t testing.TB, d time.Duration) {
	old := defaultHTTPTimeout
	defaultHTTPTimeout = d
	t.Cleanup(func() { defaultHTTPTimeout = old })
}
