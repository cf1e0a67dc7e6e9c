package mysql_test

import (
	"testing"

	"github.com/viborm/viborm-go/driver/mysql"
	"github.com/viborm/viborm-go/internal/drivertest"
	"github.com/viborm/viborm-go/internal/testenv"
)

func TestDriver(t *testing.T) {
	d, err := mysql.Open(testenv.MySQLDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	drivertest.Run(t, d, "mysql")
	drivertest.Borrowed(t, mysql.FromDB(d.DB()), d.DB())
}
