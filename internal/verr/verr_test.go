package verr_test

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/viborm/viborm-go/internal/verr"
)

func TestUnderPathBuildsThePathOnTheWayOut(t *testing.T) {
	err := error(verr.Validationf("", "bad"))
	for _, seg := range []string{"age", "[1]", "OR", "", "where"} {
		err = verr.UnderPath(err, seg)
	}
	var e *verr.Error
	if !errors.As(err, &e) || e.Field != "where.OR[1].age" {
		t.Fatalf("path %v", err)
	}
	if got, want := err.Error(), "viborm V4001 (where.OR[1].age): bad"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	plain := errors.New("x")
	if verr.UnderPath(plain, "a") != plain {
		t.Error("UnderPath changed a foreign error")
	}
}

func TestErrorText(t *testing.T) {
	inner := errors.New("disk")
	e := &verr.Error{Code: verr.CodeDatabase, Model: "user", Op: "create", Field: "email", Message: "failed", Err: inner}
	if got, want := e.Error(), "viborm V1002 user.create (email): failed: disk"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, inner) {
		t.Error("does not unwrap")
	}
	if got := verr.Schemaf("m", "f", "n=%d", 3); got.Code != verr.CodeSchema || got.Model != "m" || got.Message != "n=3" {
		t.Errorf("Schemaf = %+v", got)
	}
}

func TestDatabaseErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		err   error
		code  verr.Code
		model string
		want  verr.Code
		msg   string
	}{
		{boom, "", "user", verr.CodeDatabase, "database error"},
		{driverBadConn(), "", "user", verr.CodeConnection, "connection error"},
		{boom, verr.CodeUniqueViolation, "user", verr.CodeUniqueViolation, "unique constraint violation"},
		{boom, verr.CodeSchema, "user", verr.CodeSchema, "Client.CheckSchema"},
		{boom, verr.CodeSchema, "", verr.CodeDatabase, "database error"}, // raw SQL's own mistake
	} {
		e := verr.Database(tc.err, tc.code, tc.model, "op")
		if e.Code != tc.want || !strings.Contains(e.Message, tc.msg) || !errors.Is(e, tc.err) || e.Model != tc.model || e.Op != "op" {
			t.Errorf("Database(%v, %q, %q) = %+v; want code %s, message %q", tc.err, tc.code, tc.model, e, tc.want, tc.msg)
		}
	}
}

func driverBadConn() error { return fmt.Errorf("conn: %w", driver.ErrBadConn) }
