// Package gojsoncodec is a [cache.Codec] backed by github.com/goccy/go-json,
// a drop-in replacement for encoding/json that decodes cached query results
// several times faster (see BenchmarkDecode100Rows in rediscache).
//
// It produces and accepts the same JSON as [cache.JSON], so entries stay
// readable by TypeScript VibORM services and by processes using the
// standard codec. Give it to both sides of a serializing cache: the
// [cache.Options] Codec decodes values read back, the driver's Codec (such as
// [rediscache.Options] Codec) encodes values written.
//
// It lives apart from package cache, which imports only the standard
// library.
package gojsoncodec

import (
	json "github.com/goccy/go-json"

	"github.com/viborm/viborm-go/cache"
)

// Codec encodes and decodes with github.com/goccy/go-json.
var Codec cache.Codec = codec{}

type codec struct{}

func (codec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (codec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
