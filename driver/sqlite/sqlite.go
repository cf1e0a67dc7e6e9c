// Package sqlite is the embedded SQLite driver of the client, on
// modernc.org/sqlite (pure Go, no cgo, no server).
//
//	drv, err := sqlite.Open("file:app.db")   // or sqlite.Open(":memory:")
//	db, err := viborm.NewClient(viborm.Config{Driver: drv, Models: …})
//
// # Concurrent writers
//
// SQLite allows one writer at a time. A write of the client (an Update, an
// Upsert, a Delete) runs in a transaction that reads and then writes; in
// SQLite's default deferred mode two such transactions both take a read lock
// and then cannot upgrade it, and one fails at once with SQLITE_BUSY, which
// no busy timeout can help. [Open] therefore configures every connection
// with:
//
//   - _txlock=immediate: read-write transactions start with BEGIN IMMEDIATE,
//     taking the write lock up front, so concurrent writers queue on the
//     busy timeout instead of failing (read-only transactions stay
//     deferred);
//   - _pragma=busy_timeout(5000): a writer waits up to 5 s for the lock;
//   - _pragma=journal_mode(WAL) for a file database: readers do not block
//     the writer, nor the writer the readers;
//   - _pragma=foreign_keys(1): foreign keys are enforced.
//
// A *sql.DB given to [FromDB] must be opened with the same DSN parameters
// (for example "file:app.db?_txlock=immediate&_pragma=busy_timeout(5000)&
// _pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"); without
// _txlock=immediate, concurrent writes fail with SQLITE_BUSY
// ([viborm.ErrSerialization]).
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
// for a private in-memory database, set up for concurrent writers (see the
// package documentation): immediate transactions, a busy timeout, WAL for a
// file, and foreign keys enforced. An in-memory database lives on a single connection (SQLite
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
	dsn += sep + "_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_txlock=immediate"
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
	case 1: // SQLITE_ERROR: a missing table or column is a drifted schema
		if m := e.Error(); strings.Contains(m, "no such column") || strings.Contains(m, "no such table") {
			return viborm.CodeSchema
		}
	}
	return ""
}
