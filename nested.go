package viborm

import "github.com/viborm/viborm-go/internal/query"

// Nested is a nested write on a relation, the value of the relation's name
// in the [Data] of a Create or Update (VibORM's create, connect and
// disconnect):
//
//	// a post with its author connected: sets post.authorId from the user
//	Posts.Create(ctx, db, viborm.Create{Data: viborm.Data{
//		"title":  "Hello",
//		"author": viborm.Connect(viborm.Where{"id": 1}),
//	}})
//	// a user with two posts, inserted after the user with authorId set
//	Users.Create(ctx, db, viborm.Create{Data: viborm.Data{
//		"email": "ada@example.com",
//		"posts": viborm.CreateNested(viborm.Data{"title": "A"}, viborm.Data{"title": "B"}),
//	}})
//	// many-to-many: junction rows
//	Posts.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": 7}, Data: viborm.Data{
//		"tags": viborm.Nested{Connect: []viborm.Where{{"id": 1}}, Disconnect: []viborm.Where{{"id": 2}}},
//	}})
//
// A to-one relation takes one create or one connect; a to-many relation
// (one-to-many, many-to-many) any number of each. Connect and Disconnect
// take unique wheres of the related model. The row whose foreign key the
// written row holds is connected or created first; rows that hold the
// written row's key, and junction rows, after it. Connecting rows already
// related is not an error, nor is disconnecting rows that are not. The
// whole write, nested writes included, runs in one transaction: a failing
// nested write rolls back everything. A connect that finds no row fails
// with [ErrNotFound] naming its path ("data.author.connect"); a nested write
// on a name that is not a relation of the model, or invalid nested data,
// with [ErrValidation] naming the path ("data.posts.create[1].title").
// Nested creates nest up to [MaxNestedDepth] levels.
//
// After the commit, a write invalidates the cached reads of every model it
// changed (with auto-invalidation): the created and connected rows' models,
// the junction tables, and the models its foreign keys' ON DELETE / ON
// UPDATE actions change.
type Nested struct {
	// Create creates related rows (one for a to-one relation).
	Create []Data
	// Connect relates existing rows selected by unique wheres.
	Connect []Where
	// Disconnect unrelates rows of a to-many relation selected by unique
	// wheres (Update only); the foreign key must be nullable for a
	// one-to-many relation.
	Disconnect []Where
	// DisconnectRelated unrelates the row of a to-one relation (Update
	// only; VibORM's disconnect: true).
	DisconnectRelated bool
}

// MaxNestedDepth is how deep nested creates may nest inside one another.
const MaxNestedDepth = query.MaxNestedDepth

// Connect is a nested write relating the existing rows selected by the
// unique wheres.
func Connect(where ...Where) Nested { return Nested{Connect: where} }

// CreateNested is a nested write creating related rows.
func CreateNested(data ...Data) Nested { return Nested{Create: data} }

// Disconnect is a nested write unrelating the rows selected by the unique
// wheres of a to-many relation; with none, it unrelates the row of a to-one
// relation.
func Disconnect(where ...Where) Nested {
	if len(where) == 0 {
		return Nested{DisconnectRelated: true}
	}
	return Nested{Disconnect: where}
}

// nestedOf reads a Nested inside a Data for internal/query.
func nestedOf(v any) (query.NestedArgs, bool) {
	var n Nested
	switch x := v.(type) {
	case Nested:
		n = x
	case *Nested:
		if x == nil {
			return query.NestedArgs{}, false
		}
		n = *x
	default:
		return query.NestedArgs{}, false
	}
	a := query.NestedArgs{Unset: n.DisconnectRelated}
	for _, d := range n.Create {
		a.Create = append(a.Create, d)
	}
	for _, w := range n.Connect {
		a.Connect = append(a.Connect, w)
	}
	for _, w := range n.Disconnect {
		a.Disconnect = append(a.Disconnect, w)
	}
	return a, true
}
