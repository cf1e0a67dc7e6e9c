// Package mysql is the MySQL and MariaDB driver of the client, on
// github.com/go-sql-driver/mysql. It is tested on MariaDB.
package mysql

import (
	"database/sql"
	"errors"
	"time"

	"github.com/go-sql-driver/mysql"
	viborm "github.com/viborm/viborm-go"
)

// Driver is a MySQL/MariaDB database for [viborm.NewClient].
type Driver struct {
	db    *sql.DB
	owned bool
}

var _ viborm.ErrorClassifier = (*Driver)(nil)

// Open connects with a go-sql-driver DSN ("root@tcp(127.0.0.1:3306)/app").
// It forces parseTime (times come back as time.Time), UTC and
// clientFoundRows (UpdateMany counts matched rows, as on other databases).
func Open(dsn string) (*Driver, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.ClientFoundRows = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return &Driver{db: sql.OpenDB(connector), owned: true}, nil
}

// FromDB wraps a *sql.DB opened with go-sql-driver/mysql. Use parseTime=true
// and clientFoundRows=true in its DSN for the same behaviour as Open. Close
// does not close it.
func FromDB(db *sql.DB) *Driver { return &Driver{db: db} }

// DB returns the database handle.
func (d *Driver) DB() *sql.DB { return d.db }

// Dialect returns "mysql".
func (d *Driver) Dialect() string { return "mysql" }

// Close closes the database if Open opened it.
func (d *Driver) Close() error {
	if d.owned {
		return d.db.Close()
	}
	return nil
}

// ClassifyError maps MySQL/MariaDB error numbers to error codes.
func (d *Driver) ClassifyError(err error) viborm.Code {
	var e *mysql.MySQLError
	if !errors.As(err, &e) {
		if errors.Is(err, mysql.ErrInvalidConn) {
			return viborm.CodeConnection
		}
		return ""
	}
	switch e.Number {
	case 1062, 1586:
		return viborm.CodeUniqueViolation
	case 1451, 1452, 1216, 1217:
		return viborm.CodeForeignKey
	case 1048, 1364:
		return viborm.CodeNotNull
	case 1213, 1205:
		return viborm.CodeSerialization
	case 1054, 1146: // unknown column, no such table: a drifted schema
		return viborm.CodeSchema
	}
	return ""
}
