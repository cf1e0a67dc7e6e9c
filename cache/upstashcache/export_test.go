package upstashcache

// DecodeResponse exposes the reply decoder to the fuzz test.
var DecodeResponse = decodeResponse

// DecodePipeline exposes the pipeline reply decoder to the fuzz test.
var DecodePipeline = decodePipeline
