// Package drivertest checks a database driver package (driver/sqlite,
// driver/postgres, driver/mysql) against a real database: that it names its
// dialect, hands out a working *sql.DB, and classifies the database's
// constraint and schema errors into the codes the client maps them to.
package drivertest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/internal/dialect"
)

// Driver is what a driver package's *Driver provides.
type Driver interface {
	viborm.Driver
	viborm.ErrorClassifier
	Close() error
}

// Run checks d, of the dialect name, whose database must accept the
// statements of that dialect. It creates two tables with unique names and
// drops them at the end.
func Run(t *testing.T, d Driver, name string) {
	t.Helper()
	ctx := context.Background()
	if got := d.Dialect(); got != name {
		t.Fatalf("Dialect() = %q, want %q", got, name)
	}
	db := d.DB()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("DB().Ping: %v", err)
	}
	sfx := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	parent, child := "dt_parent_"+sfx, "dt_child_"+sfx
	dl := dialect.ByName(name)
	q := func(n string) string { return string(dl.AppendIdent(nil, n)) }
	ph := func(i int) string { return string(dl.AppendPlaceholder(nil, i)) }
	engine := dl.TableOptions()
	exec := func(s string, args ...any) error { _, err := db.ExecContext(ctx, s, args...); return err }
	for _, s := range []string{
		fmt.Sprintf("CREATE TABLE %s (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE)%s", q(parent), engine),
		fmt.Sprintf("CREATE TABLE %s (id INT PRIMARY KEY, pid INT NOT NULL REFERENCES %s (id))%s", q(child), q(parent), engine),
	} {
		if err := exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	t.Cleanup(func() {
		_ = exec("DROP TABLE " + q(child))
		_ = exec("DROP TABLE " + q(parent))
	})
	insert := fmt.Sprintf("INSERT INTO %s (id, name) VALUES (%s, %s)", q(parent), ph(1), ph(2))
	if err := exec(insert, 1, "a"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		err  error
		want viborm.Code
	}{
		{"a duplicate unique value", exec(insert, 2, "a"), viborm.CodeUniqueViolation},
		{"a duplicate primary key", exec(insert, 1, "b"), viborm.CodeUniqueViolation},
		{"a NULL in a NOT NULL column", exec(insert, 3, nil), viborm.CodeNotNull},
		{"a missing parent row", exec(fmt.Sprintf("INSERT INTO %s (id, pid) VALUES (%s, %s)", q(child), ph(1), ph(2)), 1, 99), viborm.CodeForeignKey},
		{"a missing table", exec("SELECT * FROM " + q("dt_missing_"+sfx)), viborm.CodeSchema},
		{"a missing column", exec(fmt.Sprintf("SELECT nope FROM %s", q(parent))), viborm.CodeSchema},
		{"an error of no database", errors.New("boom"), ""},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.what)
			continue
		}
		if got := d.ClassifyError(tc.err); got != tc.want {
			t.Errorf("%s: ClassifyError(%v) = %q, want %q", tc.what, tc.err, got, tc.want)
		}
	}
}

// Borrowed checks that closing a driver made from a borrowed *sql.DB
// leaves db open.
func Borrowed(t *testing.T, d Driver, db *sql.DB) {
	t.Helper()
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Ping(); err != nil {
		t.Fatalf("the borrowed *sql.DB was closed: %v", err)
	}
}
