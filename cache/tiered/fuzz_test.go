package tiered_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/viborm/viborm-go/cache/tiered"
)

func TestInvalidationRoundTrip(t *testing.T) {
	for _, inv := range []tiered.Invalidation{
		{},
		{Source: 1<<64 - 1, Keys: []string{"viborm:user:findMany:abc", ""}},
		{Source: 7, Keys: []string{"a", "\xff\x00*?[\\"}, Prefixes: []string{"viborm:user:", "日本"}},
	} {
		b := tiered.MarshalInvalidation(nil, inv)
		got, err := tiered.UnmarshalInvalidation(b)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(%+v)) = %v", inv, err)
		}
		if got.Source != inv.Source || !equalStrings(got.Keys, inv.Keys) || !equalStrings(got.Prefixes, inv.Prefixes) {
			t.Fatalf("round trip = %+v, want %+v", got, inv)
		}
	}
}

func TestUnmarshalInvalidationRejectsMalformed(t *testing.T) {
	good := tiered.MarshalInvalidation(nil, tiered.Invalidation{Source: 1, Keys: []string{"k"}})
	for name, b := range map[string][]byte{
		"empty":          nil,
		"short":          good[:5],
		"version":        append([]byte{9}, good[1:]...),
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte(nil), good...), 0),
		"huge count":     append(append([]byte(nil), good[:9]...), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"length too big": append(append([]byte(nil), good[:9]...), 1, 50, 'k'),
	} {
		if _, err := tiered.UnmarshalInvalidation(b); !errors.Is(err, tiered.ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

func FuzzUnmarshalInvalidation(f *testing.F) {
	f.Add(tiered.MarshalInvalidation(nil, tiered.Invalidation{Source: 3, Keys: []string{"a", "b"}, Prefixes: []string{"p:"}}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		inv, err := tiered.UnmarshalInvalidation(b)
		if err != nil {
			if !errors.Is(err, tiered.ErrMalformed) {
				t.Fatalf("error %v does not match ErrMalformed", err)
			}
			return
		}
		// What decodes survives a round trip.
		enc := tiered.MarshalInvalidation(nil, inv)
		again, err := tiered.UnmarshalInvalidation(enc)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(Unmarshal(%x))) = %v", b, err)
		}
		if again.Source != inv.Source || !equalStrings(again.Keys, inv.Keys) || !equalStrings(again.Prefixes, inv.Prefixes) {
			t.Fatalf("round trip of %x = %+v, want %+v", b, again, inv)
		}
		if len(b) > 0 && len(enc) > len(b) {
			t.Fatalf("re-encoding grew %d bytes to %d", len(b), len(enc))
		}
	})
}
