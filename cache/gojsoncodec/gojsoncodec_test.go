package gojsoncodec_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/gojsoncodec"
)

type user struct {
	ID        int64     `json:"id"`
	Email     string    `json:"email"`
	Name      *string   `json:"name"`
	Score     float64   `json:"score"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"createdAt"`
}

// TestSameJSONAsStandardLibrary pins that entries written with either codec
// read back with the other.
func TestSameJSONAsStandardLibrary(t *testing.T) {
	name := "Ada <&> \u2028"
	in := []user{{1, "a@x.io", &name, 0.1, true, time.UnixMilli(1700000000123).UTC()}, {2, "b@x.io", nil, -3e-7, false, time.Time{}}}
	std, err := cache.JSON.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := gojsoncodec.Codec.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(std) != string(fast) {
		t.Errorf("encodings differ:\nencoding/json %s\ngo-json       %s", std, fast)
	}
	var a, b []user
	if err := gojsoncodec.Codec.Unmarshal(std, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(fast, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, in) || !reflect.DeepEqual(b, in) {
		t.Errorf("round trip: %+v, %+v, want %+v", a, b, in)
	}
}

func ExampleCodec() {
	var rows []struct{ ID int }
	if err := gojsoncodec.Codec.Unmarshal([]byte(`[{"ID":1},{"ID":2}]`), &rows); err != nil {
		panic(err)
	}
	b, _ := gojsoncodec.Codec.Marshal(rows)
	fmt.Println(len(rows), string(b))
	// Output: 2 [{"ID":1},{"ID":2}]
}
