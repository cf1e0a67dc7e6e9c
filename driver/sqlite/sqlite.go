// Package sqlite is the embedded SQLite driver of the client, on
// modernc.org/sqlite (pure Go, no cgo, no server).
//
//	drv, err := sqlite.Open("file:app.db")   // or sqlite.Open(":memory:")
//	db, err := viborm.NewClient(viborm.Config{Driver: drv, Models: …})
package sqlite

import (
	"database/sql"
	"errors"
	"strings"

	viborm "github.com/viborm/viborm-go"
	"modernc.org/sqlite"
)

// Driver is a SQLite database for [viborm.NewClient].
type Driver struct {
	db    *sql.DB
	owned bool
}

var _ viborm.ErrorClassifier = (*Driver)(nil)

// Open opens a SQLite database: a file name, a "file:" URI, or ":memory:"
// for a private in-memory database. Foreign keys are enforced and a busy
// timeout is set. An in-memory database lives on a single connection (SQLite
// gives each connection its own in-memory database), so use the transaction
// handle, not the client, inside [viborm.Client.Tx].
func Open(dsn string) (*Driver, error) {
	mem := dsn == ":memory:" || strings.Contains(dsn, "mode=memory")
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	if dsn == ":memory:" {
		dsn = "file::memory:"
	}
	dsn += sep + "_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)"
	if !mem {
		dsn += "&_pragma=journal_mode(WAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	if mem {
		db.SetMaxOpenConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return &Driver{db: db, owned: true}, nil
}

// FromDB wraps a *sql.DB opened with the "sqlite" driver of
// modernc.org/sqlite. Close does not close it.
func FromDB(db *sql.DB) *Driver { return &Driver{db: db} }

// DB returns the database handle.
func (d *Driver) DB() *sql.DB { return d.db }

// Dialect returns "sqlite".
func (d *Driver) Dialect() string { return "sqlite" }

// Close closes the database if Open opened it.
func (d *Driver) Close() error {
	if d.owned {
		return d.db.Close()
	}
	return nil
}

// ClassifyError maps SQLite's extended result codes to error codes.
func (d *Driver) ClassifyError(err error) viborm.Code {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return ""
	}
	switch e.Code() {
	case 2067, 1555: // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
		return viborm.CodeUniqueViolation
	case 787: // SQLITE_CONSTRAINT_FOREIGNKEY
		return viborm.CodeForeignKey
	case 1299: // SQLITE_CONSTRAINT_NOTNULL
		return viborm.CodeNotNull
	case 5, 6, 517: // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_SNAPSHOT
		return viborm.CodeSerialization
	}
	return ""
}
