package rowcodec_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/s"
)

// benchUser has the shape of the root package's 14-field test model.
type benchUser struct {
	ID        int64
	Email     string
	Name      *string
	Age       int
	Score     float64
	Balance   string
	Active    bool
	Role      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Meta      json.RawMessage
	Avatar    []byte
	Big       int64
	Born      *time.Time
}

// benchMember has the shape of the lean benchmark model.
type benchMember struct {
	ID        int64
	Email     string
	Name      string
	Active    bool
	CreatedAt time.Time
}

var (
	benchUserPlan = mustPlan(reflect.TypeFor[benchUser](), []refColumn{{"id", s.KindBigInt}, {"email", s.KindString},
		{"name", s.KindString}, {"age", s.KindInt}, {"score", s.KindFloat}, {"balance", s.KindDecimal},
		{"active", s.KindBoolean}, {"role", s.KindEnum}, {"createdAt", s.KindDateTime}, {"updatedAt", s.KindDateTime},
		{"meta", s.KindJSON}, {"avatar", s.KindBytes}, {"big", s.KindBigInt}, {"born", s.KindDateTime}})
	benchMemberPlan = mustPlan(reflect.TypeFor[benchMember](), []refColumn{{"id", s.KindBigInt}, {"email", s.KindString},
		{"name", s.KindString}, {"active", s.KindBoolean}, {"createdAt", s.KindDateTime}})
)

func benchUsers(n int) []benchUser {
	out := make([]benchUser, n)
	for i := range out {
		name := fmt.Sprintf("User %d", i)
		born := time.Date(1990, 1, 1+i%28, 0, 0, 0, 0, time.UTC)
		now := time.Now().UTC()
		out[i] = benchUser{ID: int64(i + 1), Email: fmt.Sprintf("user%03d@example.com", i), Name: &name, Age: 20 + i%50,
			Score: float64(i) / 3, Balance: "12.50", Active: true, Role: "user", CreatedAt: now, UpdatedAt: now, Big: 0, Born: &born}
	}
	return out
}

func benchMembers(n int) []benchMember {
	out := make([]benchMember, n)
	for i := range out {
		out[i] = benchMember{ID: int64(i + 1), Email: fmt.Sprintf("m%d@x", i), Name: "Member", Active: true, CreatedAt: time.Now().UTC()}
	}
	return out
}

// BenchmarkCopyRows measures the defensive copy of a cached hit: 100 rows
// of the lean model (no field refers to mutable memory: one memmove) and
// of the 14-field model (a *string, two byte slices and a *time.Time are
// duplicated, one arena per field).
func BenchmarkCopyRows(b *testing.B) {
	b.Run("member100", func(b *testing.B) {
		src := benchMembers(100)
		b.ReportAllocs()
		for b.Loop() {
			rowcodec.CopyRows(benchMemberPlan, src)
		}
	})
	b.Run("user100", func(b *testing.B) {
		src := benchUsers(100)
		b.ReportAllocs()
		for b.Loop() {
			rowcodec.CopyRows(benchUserPlan, src)
		}
	})
	// The same copy with an allocation per pointed-to value and byte slice
	// instead of one per field for all rows: what the arenas save.
	b.Run("user100-perValue", func(b *testing.B) {
		src := benchUsers(100)
		b.ReportAllocs()
		for b.Loop() {
			copyUsersPerValue(src)
		}
	})
}

func copyUsersPerValue(src []benchUser) []benchUser {
	out := make([]benchUser, len(src))
	copy(out, src)
	for i := range out {
		u := &out[i]
		if u.Name != nil {
			n := *u.Name
			u.Name = &n
		}
		if u.Born != nil {
			t := *u.Born
			u.Born = &t
		}
		if u.Meta != nil {
			u.Meta = append(json.RawMessage{}, u.Meta...)
		}
		if u.Avatar != nil {
			u.Avatar = append([]byte{}, u.Avatar...)
		}
	}
	return out
}

// BenchmarkDecodeRows measures a hit on a serializing driver: 100 cached
// rows decoded from their cached form.
func BenchmarkDecodeRows(b *testing.B) {
	b.Run("member100", func(b *testing.B) {
		raw := rowcodec.AppendRows(nil, benchMemberPlan, benchMemberPlan.All(), benchMembers(100))
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rowcodec.DecodeRows[benchMember](benchMemberPlan, benchMemberPlan.All(), raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("user100", func(b *testing.B) {
		raw := rowcodec.AppendRows(nil, benchUserPlan, benchUserPlan.All(), benchUsers(100))
		b.SetBytes(int64(len(raw)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rowcodec.DecodeRows[benchUser](benchUserPlan, benchUserPlan.All(), raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}
