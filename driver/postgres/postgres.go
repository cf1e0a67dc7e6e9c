// Package postgres is the PostgreSQL driver of the client, on
// github.com/jackc/pgx/v5 through its database/sql adapter.
package postgres

import (
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	viborm "github.com/viborm/viborm-go"
)

// Driver is a PostgreSQL database for [viborm.NewClient].
type Driver struct {
	db    *sql.DB
	owned bool
}

var _ viborm.ErrorClassifier = (*Driver)(nil)

// Open connects to PostgreSQL with a pgx DSN or URL
// ("postgres://user@host:5432/db?sslmode=disable").
func Open(dsn string) (*Driver, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	return &Driver{db: db, owned: true}, nil
}

// FromDB wraps a *sql.DB opened with pgx's "pgx" driver. Close does not close it.
func FromDB(db *sql.DB) *Driver { return &Driver{db: db} }

// DB returns the database handle.
func (d *Driver) DB() *sql.DB { return d.db }

// Dialect returns "postgres".
func (d *Driver) Dialect() string { return "postgres" }

// Close closes the database if Open opened it.
func (d *Driver) Close() error {
	if d.owned {
		return d.db.Close()
	}
	return nil
}

// ClassifyError maps PostgreSQL SQLSTATEs to error codes.
func (d *Driver) ClassifyError(err error) viborm.Code {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) {
			return viborm.CodeConnection
		}
		return ""
	}
	switch e.Code {
	case "23505":
		return viborm.CodeUniqueViolation
	case "23503":
		return viborm.CodeForeignKey
	case "23502":
		return viborm.CodeNotNull
	case "40001", "40P01":
		return viborm.CodeSerialization
	case "22P02", "22003", "22007", "22008":
		return viborm.CodeValidation
	case "42703", "42P01": // undefined column, undefined table: a drifted schema
		return viborm.CodeSchema
	}
	if len(e.Code) >= 2 && e.Code[:2] == "08" {
		return viborm.CodeConnection
	}
	return ""
}
