package viborm

import "github.com/viborm/viborm-go/internal/query"

// RelFilter is a relation filter, the value of a relation's name in a
// [Where] (VibORM's some, every, none, is and isNot):
//
//	viborm.Where{"posts": viborm.Some(viborm.Where{"published": true})}
//	viborm.Where{"author": viborm.Is(viborm.Where{"name": "Ada"})}
//	viborm.Where{"author": viborm.Is(nil)} // no author: the foreign key is NULL
//
// Some, Every and None filter to-many relations (one-to-many and
// many-to-many), Is and IsNot to-one relations; the other pairing is an
// ErrValidation naming the path. Their wheres are wheres of the related
// model and may hold relation filters in turn; each level counts towards
// [MaxWhereDepth]. The map form is accepted too:
// Where{"posts": Where{"some": Where{…}}}, and on a to-one relation a plain
// Where on the related model means Is, and nil means Is(nil).
//
// Filters compile to EXISTS subqueries, in the same statement. Every holds
// when no related row fails the where, counting a row for which the where
// is unknown (a comparison with NULL) as failing; it holds for a row with
// no related rows. A cached read with a relation filter depends on the
// related models, so writes to them invalidate it.
type RelFilter struct {
	op query.Op
	w  Where
}

func (f RelFilter) cond() *query.Cond {
	return &query.Cond{Ops: []query.CondOp{{Op: f.op, V: f.w}}}
}

// Some keeps the rows with at least one related row matching w (any
// related row when w is empty).
func Some(w Where) RelFilter { return RelFilter{op: query.OpSome, w: w} }

// Every keeps the rows whose related rows all match w (rows with none
// included).
func Every(w Where) RelFilter { return RelFilter{op: query.OpEvery, w: w} }

// None keeps the rows with no related row matching w (no related row at
// all when w is empty).
func None(w Where) RelFilter { return RelFilter{op: query.OpNone, w: w} }

// Is keeps the rows whose related row matches w. Is(nil) keeps the rows
// with no related row; Is(Where{}) those with one.
func Is(w Where) RelFilter { return RelFilter{op: query.OpIs, w: w} }

// IsNot keeps the rows whose related row does not match w, rows without
// one included. IsNot(nil) keeps the rows with a related row.
func IsNot(w Where) RelFilter { return RelFilter{op: query.OpIsNot, w: w} }
