package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/internal/drivertest"
)

func TestDriver(t *testing.T) {
	for _, dsn := range []string{":memory:", filepath.Join(t.TempDir(), "t.db")} {
		d, err := sqlite.Open(dsn)
		if err != nil {
			t.Fatal(err)
		}
		drivertest.Run(t, d, "sqlite")
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if err := d.DB().Ping(); err == nil {
			t.Errorf("%s: Close left the database Open opened open", dsn)
		}
	}
}

func TestFromDBNeverClosesTheDB(t *testing.T) {
	owner, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	drivertest.Borrowed(t, sqlite.FromDB(owner.DB()), owner.DB())
}
