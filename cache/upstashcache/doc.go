// Package upstashcache is a [cache.Driver] for Upstash Redis over its REST
// API, with nothing but the standard library's net/http: the production
// form of the Upstash driver in VibORM's custom driver guide, for serverless
// runtimes where a TCP connection pool is not an option.
//
//	d, err := upstashcache.FromEnv(nil) // UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN
//	...
//	c, err := cache.New(d, &cache.Options{WaitUntil: waitUntil})
//
// # Protocol
//
// Each command is POSTed to the database's URL as a JSON array of strings,
// such as ["SET","viborm:user:findMany:…","{…}","PX","60000"], with the header
// "Authorization: Bearer <token>". The reply is {"result":…} or
// {"error":"…"}; failures of the request itself come with a non-2xx status
// (401 for a wrong token). [Driver.Pipeline] uses the /pipeline endpoint,
// which takes an array of commands and answers an array of such objects.
// Error replies are [*APIError]s, matching [ErrAPI], and [ErrUnauthorized]
// for 401 and 403; replies that do not follow the protocol match
// [ErrProtocol].
//
// # Storage
//
// Entries are stored exactly as [github.com/viborm/viborm-go/cache/rediscache]
// stores them, the bytes of [cache.MarshalEntry] (VibORM's
// {"value":…,"createdAt":…,"ttl":…}), with SET … PX; [Driver.Add] is
// SET … NX PX and [Driver.GetMany] one MGET. Since JSON strings carry UTF-8
// text, keys must be valid UTF-8 ([ErrKey] otherwise); VibORM's keys are.
//
// [Driver.Clear] runs SCAN with the prefix's glob characters escaped and
// deletes each batch it finds: correct, but its cost grows with the size of
// the database, one request per SCAN step. (The sorted-set index of
// rediscache is not used here: an Upstash database is usually small and
// dedicated, and every request is an HTTP round trip.)
//
// # Dependencies
//
// The driver implements [cache.DepIndexer]: [Driver.IndexDeps] records a
// key in a sorted set per dependency tag, "<IndexPrefix>d:<tag>" (the
// layout of rediscache on a single node), scored by the record's expiry in
// Unix milliseconds, with one /pipeline request; the set expires with its
// longest-lived record and every write trims the records that have expired.
// [Driver.ClearDeps] renames each set to a name of its own (so that records
// written meanwhile go to a fresh set and are never lost), then deletes its
// keys in batches of [Options.ScanCount], one request per batch: its cost
// is proportional to the entries it removes, not to the database.
//
// # Timeouts
//
// Every request carries its call's context, which the cache bounds with its
// Timeout. Behind that, the HTTP client the driver makes when
// [Options.HTTPClient] is nil has a Timeout of [DefaultHTTPTimeout] (5s), so
// that even a call with no deadline (a write's invalidation, say) cannot be
// held forever by a gateway that accepts a request and never answers. A
// client passed in Options is used as it is: give it a Timeout, which
// http.DefaultClient lacks.
//
// # Testing
//
// The live Upstash service is not reachable from this project's test
// environment. The tests run the conformance kit through a small gateway, an
// httptest.Server that speaks the REST protocol described above (bearer
// token, / and /pipeline, result and error objects) in front of a real Redis
// server; other tests pin the exact requests the driver sends, and a fuzz
// test feeds arbitrary replies to the decoder.
package upstashcache
