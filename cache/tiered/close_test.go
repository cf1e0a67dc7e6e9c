package tiered_test

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/cachetest"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/cache/tiered"
	"github.com/viborm/viborm-go/internal/testenv"
)

// TestCloseLogsNoOutage guards against Close being reported as a lost bus:
// the subscription that Close ends is not an outage, so nothing is logged
// at warning level.
func TestCloseLogsNoOutage(t *testing.T) {
	var logs testenv.Buffer
	l2, err := memorycache.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := tiered.New(l2, newMemBus(), &tiered.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil { // waits for the subscription's goroutine
		t.Fatal(err)
	}
	if out := logs.String(); strings.Contains(out, "level=WARN") {
		t.Fatalf("Close logged a warning:\n%s", out)
	}
}

// TestConformanceOverL2WithoutLeases runs the conformance kit on a tiered
// driver whose L2 (the memory driver) has no leases: the kit must skip the
// lease checks, as the core ignores leases that are not offered, rather
// than fail them.
func TestConformanceOverL2WithoutLeases(t *testing.T) {
	err := cachetest.Test(t.Context(), func() (cache.Driver, error) {
		l2, err := memorycache.New(nil)
		if err != nil {
			return nil, err
		}
		return tiered.New(l2, newMemBus(), &tiered.Options{Logger: quiet})
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
}
