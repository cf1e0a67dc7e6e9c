package postgres_test

import (
	"testing"

	"github.com/viborm/viborm-go/driver/postgres"
	"github.com/viborm/viborm-go/internal/drivertest"
	"github.com/viborm/viborm-go/internal/testenv"
)

func TestDriver(t *testing.T) {
	d, err := postgres.Open(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	drivertest.Run(t, d, "postgres")
	drivertest.Borrowed(t, postgres.FromDB(d.DB()), d.DB())
}
