// Package verr is the error type of the ORM's internal stages. It mirrors
// viborm.Error field for field; the root package converts a *verr.Error into
// a *viborm.Error once, at its boundary, so that the stages need not import
// the public package.
package verr

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// Code is a stable error code; the values are those of viborm.Code.
type Code string

// The codes the internal stages produce.
const (
	CodeConnection      Code = "V1001"
	CodeDatabase        Code = "V1002"
	CodeNotFound        Code = "V3001"
	CodeValidation      Code = "V4001"
	CodeSchema          Code = "V4002"
	CodeUniqueViolation Code = "V5001"
	CodeForeignKey      Code = "V5002"
	CodeNotNull         Code = "V5003"
	CodeSerialization   Code = "V5004"

	CodeClosed             Code = "V1003"
	CodeInvalidCacheOption Code = "V10001"
	CodeInvalidCacheKey    Code = "V10002"
	CodeNotCacheable       Code = "V10003"
	CodeCacheNotConfigured Code = "V10004"
	CodeCacheInvalidation  Code = "V10005"
)

// ErrOutOfRange is wrapped by the error of a read that met a number its Go
// field cannot hold; viborm.ErrOutOfRange is this value.
var ErrOutOfRange = errors.New("viborm: value out of the range of its Go field")

// Closed is the error of an operation op started after the client closed.
func Closed(op string) *Error {
	return &Error{Code: CodeClosed, Op: op, Message: "the client is closed"}
}

// WithOp fills in the model and operation of err when it is an *Error that
// lacks them, and returns err.
func WithOp(err error, model, op string) error {
	var e *Error
	if errors.As(err, &e) {
		if e.Model == "" {
			e.Model = model
		}
		if e.Op == "" {
			e.Op = op
		}
	}
	return err
}

// Error is an error of a stage: a code, where it happened and why.
type Error struct {
	Code    Code
	Model   string
	Op      string
	Field   string // the field or argument path
	Message string
	Err     error
}

func (e *Error) Error() string {
	return Format(string(e.Code), e.Model, e.Op, e.Field, e.Message, e.Err)
}

// Format is the text of an error: "viborm <code> <model>.<op> (<field>):
// <message>: <err>", each part only when known. viborm.Error shares it.
func Format(code, model, op, field, msg string, err error) string {
	s := "viborm " + code
	if model != "" {
		s += " " + model
		if op != "" {
			s += "." + op
		}
	}
	if field != "" {
		s += " (" + field + ")"
	}
	s += ": " + msg
	if err != nil {
		s += ": " + err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Validationf returns a validation error about the argument path field.
func Validationf(field, format string, args ...any) *Error {
	return &Error{Code: CodeValidation, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Schemaf returns a schema error about field of model.
func Schemaf(model, field, format string, args ...any) *Error {
	return &Error{Code: CodeSchema, Model: model, Field: field, Message: fmt.Sprintf(format, args...)}
}

// UnderPath prefixes the argument path of err, when it is an *Error, with
// seg: "where" + "a" = "where.a", "AND" + "[0]" = "AND[0]". The path is
// built on the way out of a recursion, so it costs nothing unless there is
// an error.
func UnderPath(err error, seg string) error {
	e, ok := err.(*Error)
	if !ok || seg == "" {
		return err
	}
	switch {
	case e.Field == "":
		e.Field = seg
	case e.Field[0] == '[':
		e.Field = seg + e.Field
	default:
		e.Field = seg + "." + e.Field
	}
	return e
}

var dbMessages = map[Code]string{
	CodeSchema:          "the database does not match the models (a missing table or column): Client.CheckSchema lists the differences and what to run",
	CodeUniqueViolation: "unique constraint violation",
	CodeForeignKey:      "foreign key violation",
	CodeNotNull:         "not-null violation",
	CodeSerialization:   "serialization failure or deadlock",
	CodeConnection:      "connection error",
}

// Database is the error of a statement of op on model ("" for raw SQL)
// that failed with err, which the driver classified as code ("" when it
// could not). Unclassified errors are connection errors when database/sql
// says so, and database errors otherwise; a schema error of raw SQL is the
// query's own mistake, a database error.
func Database(err error, code Code, model, op string) *Error {
	if code == "" {
		code = CodeDatabase
		if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
			code = CodeConnection
		}
	}
	if code == CodeSchema && model == "" {
		code = CodeDatabase
	}
	msg, ok := dbMessages[code]
	if !ok {
		msg = "database error"
	}
	return &Error{Code: code, Model: model, Op: op, Message: msg, Err: err}
}
