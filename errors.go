package viborm

import (
	"errors"
	"fmt"

	"github.com/viborm/viborm-go/internal/verr"
)

// Code is a stable error code, VibORM style ("V3001").
type Code string

// The error codes.
const (
	CodeConnection         Code = "V1001" // the database could not be reached
	CodeDatabase           Code = "V1002" // any other database error
	CodeClosed             Code = "V1003" // the client was closed
	CodeNotFound           Code = "V3001" // an OrErr read, update or delete found no row
	CodeValidation         Code = "V4001" // invalid query arguments
	CodeSchema             Code = "V4002" // an invalid schema or binding (NewClient)
	CodeUniqueViolation    Code = "V5001"
	CodeForeignKey         Code = "V5002"
	CodeNotNull            Code = "V5003"
	CodeSerialization      Code = "V5004" // deadlock or serialization failure: retry
	CodeInvalidCacheOption Code = "V10001"
	CodeInvalidCacheKey    Code = "V10002"
	CodeNotCacheable       Code = "V10003"
	CodeCacheNotConfigured Code = "V10004"
	CodeCacheInvalidation  Code = "V10005"
)

// Sentinels for errors.Is; every *Error matches the sentinel of its Code.
var (
	ErrConnection         = errors.New("viborm: connection error")
	ErrDatabase           = errors.New("viborm: database error")
	ErrClosed             = errors.New("viborm: client closed")
	ErrNotFound           = errors.New("viborm: record not found")
	ErrValidation         = errors.New("viborm: invalid arguments")
	ErrSchema             = errors.New("viborm: invalid schema")
	ErrUniqueViolation    = errors.New("viborm: unique constraint violation")
	ErrForeignKey         = errors.New("viborm: foreign key violation")
	ErrNotNull            = errors.New("viborm: not-null violation")
	ErrSerialization      = errors.New("viborm: serialization failure")
	ErrInvalidCacheOption = errors.New("viborm: invalid cache option")
	ErrInvalidCacheKey    = errors.New("viborm: invalid cache key")
	ErrNotCacheable       = errors.New("viborm: operation is not cacheable")
	ErrCacheNotConfigured = errors.New("viborm: cache not configured")
	ErrCacheInvalidation  = errors.New("viborm: cache invalidation failed")
)

// ErrOutOfRange is wrapped by the error (code V1002, [ErrDatabase]) of a read
// that met a number its Go field cannot hold: a negative value for an
// unsigned field, or a value wider than the field's integer type. The read
// fails rather than return a truncated number.
var ErrOutOfRange = verr.ErrOutOfRange

var sentinels = map[Code]error{
	CodeConnection: ErrConnection, CodeDatabase: ErrDatabase, CodeClosed: ErrClosed, CodeNotFound: ErrNotFound,
	CodeValidation: ErrValidation, CodeSchema: ErrSchema, CodeUniqueViolation: ErrUniqueViolation,
	CodeForeignKey: ErrForeignKey, CodeNotNull: ErrNotNull, CodeSerialization: ErrSerialization,
	CodeInvalidCacheOption: ErrInvalidCacheOption, CodeInvalidCacheKey: ErrInvalidCacheKey,
	CodeNotCacheable: ErrNotCacheable, CodeCacheNotConfigured: ErrCacheNotConfigured,
	CodeCacheInvalidation: ErrCacheInvalidation,
}

// Error is every error the client returns about a query, the schema or the
// cache configuration. It matches the sentinel of its Code with errors.Is
// (errors.Is(err, viborm.ErrNotFound)) and unwraps to the underlying database
// or cache error.
type Error struct {
	Code    Code
	Model   string // the model, when known
	Op      string // the operation, such as "findMany"
	Field   string // the field or argument path, when known
	Message string
	Err     error // the database or cache error, if any
}

func (e *Error) Error() string {
	return verr.Format(string(e.Code), e.Model, e.Op, e.Field, e.Message, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's Code.
func (e *Error) Is(target error) bool { return target != nil && sentinels[e.Code] == target }

// IsRetryable reports whether err is a deadlock, serialization failure or
// connection error, after which retrying the transaction may succeed.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrSerialization) || errors.Is(err, ErrConnection)
}

func validationf(field, format string, args ...any) *Error {
	return &Error{Code: CodeValidation, Field: field, Message: fmt.Sprintf(format, args...)}
}

// public converts an error of the engine (a *verr.Error) into an *Error;
// other errors are returned as they are. Every error leaves the package
// through it once.
func public(err error) error {
	var ve *verr.Error
	if err != nil && errors.As(err, &ve) {
		return &Error{Code: Code(ve.Code), Model: ve.Model, Op: ve.Op, Field: ve.Field, Message: ve.Message, Err: ve.Err}
	}
	return err
}
