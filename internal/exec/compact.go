package exec

import "github.com/viborm/viborm-go/internal/rowcodec"

// MarshalCompactJSON writes the payload in its compact form, for a cache
// whose codec is cache.CompactJSON (see cache.CompactMarshaler): rows of a
// struct model without relations as one JSON string holding their binary
// encoding (see rowcodec.AppendRowsCompact), which Spec.Decode reads as it
// reads the JSON form; anything else in the JSON form of MarshalJSON.
func (p Payload) MarshalCompactJSON() ([]byte, error) {
	if p.Kind == Rows && !p.Q.HasRel() {
		if b, ok := rowcodec.AppendRowsCompact(nil, p.MD.Codec, p.MD.SelIdx(p.Q.Sel), p.V); ok {
			return b, nil
		}
	}
	return p.MarshalJSON()
}
