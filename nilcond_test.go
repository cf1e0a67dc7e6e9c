package viborm_test

import (
	"context"
	"errors"
	"testing"

	viborm "github.com/viborm/viborm-go"
)

// TestNilCondInAUniqueWhereIsAValidationError: a nil *Cond on the id of a
// FindUnique, Update or Delete where is refused with ErrValidation; the
// unique-where check used to dereference it and panic.
func TestNilCondInAUniqueWhereIsAValidationError(t *testing.T) {
	db := newClient(t, "sqlite", viborm.Config{})
	ctx := context.Background()
	w := viborm.Where{"id": (*viborm.Cond)(nil)}
	_, err1 := Users.FindUnique(ctx, db, viborm.FindUnique{Where: w})
	_, err2 := Users.Update(ctx, db, viborm.Update{Where: w, Data: viborm.Data{"name": "x"}})
	_, err3 := Users.Delete(ctx, db, viborm.Delete{Where: w})
	for i, err := range []error{err1, err2, err3} {
		if !errors.Is(err, viborm.ErrValidation) {
			t.Errorf("operation %d: %v, want ErrValidation", i, err)
		}
	}
}
