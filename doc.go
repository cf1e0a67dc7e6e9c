// Package viborm is the Go port of the VibORM client: a schema-first ORM for
// SQLite, PostgreSQL and MySQL/MariaDB whose reads can be cached, with
// VibORM's cache semantics, in any [github.com/viborm/viborm-go/cache]
// backend (memory, Redis, Upstash).
//
// # Models
//
// A model is declared once, with the builders of package
// [github.com/viborm/viborm-go/s], and bound to a Go struct (or to [Row] for
// dynamic rows):
//
//	type User struct {
//		ID        int64
//		Email     string
//		Name      *string // nullable
//		CreatedAt time.Time
//	}
//
//	var Users = viborm.Model[User]("user",
//		s.BigInt("id").ID().Autoincrement(),
//		s.String("email").Unique(),
//		s.String("name").Nullable(),
//		s.DateTime("createdAt").Now(),
//	)
//
// Fields match struct fields ignoring case and underscores, or by the tag
// `viborm:"name"`. [NewClient] checks the schema and the binding: missing
// fields, wrong Go types, nullable fields without a pointer, unknown
// relation targets… each with a precise [ErrSchema] error.
//
// # Executors
//
// Operations are methods of the model that take the executor as an argument:
// a *[Client] or a *[Tx] (both [Writer]s) or a *[Cached] handle from
// [Client.WithCache], which is only a [Reader] — a write through it does not
// compile:
//
//	users, err := Users.FindMany(ctx, db, viborm.FindMany{Where: viborm.Where{"active": true}})
//	cached := db.WithCache(viborm.CacheOptions{TTL: time.Minute, SWR: true})
//	users, err = Users.FindMany(ctx, cached, viborm.FindMany{Where: viborm.Where{"active": true}})
//	_, err = Users.Update(ctx, db, viborm.Update{Where: viborm.Where{"id": 1},
//		Data: viborm.Data{"name": "Ada"}, Cache: &viborm.Invalidate{Auto: new(true)}})
//
// Struct results leave fields outside Select at their zero value: use
// [Row] when "absent" and "zero" must differ.
//
// # Caching
//
// Cached reads are keyed "viborm[:v<version>]:<model>:<op>:<hash>", where
// the hash covers the validated and normalised arguments: two argument
// values that mean the same query (map order, int vs int64, Select vs the
// equivalent Omit) share a key, different queries never do. The operation
// names are VibORM's (findMany, findUniqueOrThrow, count, exist, …);
// [ModelDef.CacheKey] returns the key a read would use.
//
// A hit returns a value deep-equal to what the miss returned, on every
// driver, and never shares mutable memory with the cache: the in-memory
// driver stores the result and each hit copies it (pointer and byte-slice
// fields included); serializing drivers store a tagged JSON form that
// round-trips times, byte strings, decimals, 64-bit integers and NULLs.
//
// Writes invalidate after they succeed — after COMMIT inside [Client.Tx],
// and not at all on rollback. A committed write never fails because the
// cache did: the failure is logged, retried in the background and reported
// through [Config.OnInvalidateError].
//
// # Relations
//
// Declared relations are loaded with [Include] (per-parent Take and Skip,
// nested, one batched query per level), counted with [CountRel], filtered
// with [Some], [Every], [None], [Is] and [IsNot], and written through with
// [Connect], [CreateNested] and [Disconnect] in one transaction:
//
//	users, err := Users.FindMany(ctx, cached, viborm.FindMany{
//		Where:   viborm.Where{"posts": viborm.Some(viborm.Where{"published": true})},
//		Include: viborm.Include{"posts": {OrderBy: []viborm.Order{viborm.Desc("title")}, Take: new(2)}},
//	})
//
// A cached read depends on every model it read (its includes, counts,
// relation filters and junction tables): invalidating any of them clears
// it, and no other read. Hooks for tracing, metrics and query logs are set
// in [Config.Hooks] (see [Hook] and the querylog package).
//
// # Architecture
//
// The ORM is a pipeline behind this package: internal/engine runs each
// operation (checks, cache, hooks, errors, invalidation) through
// internal/schema (models), internal/query (the normalised query and its
// canonical encoding), internal/sqlgen (SQL per operation, per
// internal/dialect), internal/exec and internal/rowcodec (running
// statements and reading rows). ARCHITECTURE.md at the root of
// the repository shows which package owns which stage and how a cached read
// and a write travel through them.
//
// # Errors
//
// Every error is an *[Error] with a stable [Code], matched with errors.Is
// against [ErrNotFound], [ErrUniqueViolation], [ErrForeignKey], [ErrNotNull],
// [ErrValidation], [ErrCacheNotConfigured], [ErrInvalidCacheOption]…, and
// mapped from each database's own error codes by the driver packages.
package viborm
