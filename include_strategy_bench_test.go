package viborm_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/driver/postgres"
	"github.com/viborm/viborm-go/s"
)

// The models of BenchmarkIncludeStrategy: the posts carry the scalar types
// that a JSON-aggregated include must decode faithfully (a timestamp, a
// decimal and an int64 beyond 2^53).

type JUser struct {
	ID        int64
	Name      string
	Email     string
	CreatedAt time.Time
	Posts     []JPost
}

type JPost struct {
	ID        int64
	Title     string
	AuthorID  int64 `viborm:"authorId"`
	Rank      int
	Big       int64
	Amount    string // decimal
	CreatedAt time.Time
}

var (
	JUsers = viborm.Model[JUser]("juser",
		s.BigInt("id").ID().Autoincrement(),
		s.String("name"),
		s.String("email"),
		s.DateTime("createdAt"),
		s.OneToMany("posts", "jpost"),
		s.Table("j_users"))
	JPosts = viborm.Model[JPost]("jpost",
		s.BigInt("id").ID().Autoincrement(),
		s.String("title"),
		s.BigInt("authorId"),
		s.Int("rank"),
		s.BigInt("big"),
		s.Decimal("amount").Precision(12, 2),
		s.DateTime("createdAt"),
		s.ManyToOne("author", "juser").Fields("authorId").References("id"),
		// (authorId, id) serves both the key lookup and a per-parent
		// LIMIT in id order; with an index on authorId alone PostgreSQL
		// answers jsonSubqueryTake3 by walking the primary key and
		// filtering (about 50x slower at 50 users x 500 posts).
		s.Index("authorId", "id"),
		s.Table("j_posts"))
)

// The single-statement alternative of B.1 (a) in relations-notes.md: each
// user row carries its posts as a JSON array built by PostgreSQL. The
// decimal is cast to text in SQL: as a JSON number it does not decode into
// a string field. The timestamp arrives as ISO 8601 text in the session's
// time zone, at microsecond precision, and is put back in UTC by the
// decoder, as the driver's values are.
const (
	jPostObject = `json_build_object('id', p.id, 'title', p.title, 'authorId', p."authorId", 'rank', p.rank,
		'big', p.big, 'amount', p.amount::text, 'createdAt', p."createdAt")`
	jUserCols = `u.id, u.name, u.email, u."createdAt"`

	jsonSubquery = `SELECT ` + jUserCols + `, COALESCE((SELECT json_agg(` + jPostObject + ` ORDER BY p.id)
		FROM j_posts p WHERE p."authorId" = u.id), '[]') FROM j_users u ORDER BY u.id`
	jsonSubqueryTake3 = `SELECT ` + jUserCols + `, COALESCE((SELECT json_agg(` + jPostObject + ` ORDER BY p.id)
		FROM (SELECT * FROM j_posts WHERE "authorId" = u.id ORDER BY id LIMIT 3) p), '[]') FROM j_users u ORDER BY u.id`
	jsonLateral = `SELECT ` + jUserCols + `, COALESCE(l.posts, '[]') FROM j_users u LEFT JOIN LATERAL
		(SELECT json_agg(` + jPostObject + ` ORDER BY p.id) AS posts FROM j_posts p WHERE p."authorId" = u.id) l ON true ORDER BY u.id`
	jsonLateralTake3 = `SELECT ` + jUserCols + `, COALESCE(l.posts, '[]') FROM j_users u LEFT JOIN LATERAL
		(SELECT json_agg(` + jPostObject + ` ORDER BY p.id) AS posts
		 FROM (SELECT * FROM j_posts WHERE "authorId" = u.id ORDER BY id LIMIT 3) p) l ON true ORDER BY u.id`

	// The hand-written batched reads (one statement per level, keys as one
	// array parameter), to tell the strategy's cost from the ORM's.
	rawUsers      = `SELECT ` + jUserCols + ` FROM j_users u ORDER BY u.id`
	rawPostCols   = `id, title, "authorId", rank, big, amount, "createdAt"`
	rawPosts      = `SELECT ` + rawPostCols + ` FROM j_posts WHERE "authorId" = ANY($1) ORDER BY "authorId", id`
	rawPostsTake3 = `SELECT ` + rawPostCols + ` FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY "authorId" ORDER BY id) AS rn
		FROM j_posts WHERE "authorId" = ANY($1)) p WHERE rn <= 3 ORDER BY "authorId", id`
	// The per-parent take as a LATERAL LIMIT over the keys: still one
	// statement per level and plain rows, but it reads only the rows kept,
	// where the window reads every child of every parent.
	rawPostsLateralTake3 = `SELECT p.id, p.title, p."authorId", p.rank, p.big, p.amount, p."createdAt"
		FROM unnest($1::bigint[]) AS k(id) CROSS JOIN LATERAL
		(SELECT * FROM j_posts WHERE "authorId" = k.id ORDER BY id LIMIT 3) p ORDER BY p."authorId", p.id`
)

// readJSONAgg runs one of the JSON statements and decodes it: a fair minimal
// version of what the ORM would do for this shape (no Row models, no
// nesting, no hooks).
func readJSONAgg(ctx context.Context, db *sql.DB, query string) ([]JUser, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var us []JUser
	for rows.Next() {
		var u JUser
		var posts sql.RawBytes
		if err := rows.Scan(&u.ID, &u.Name, &u.Email, &u.CreatedAt, &posts); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(posts, &u.Posts); err != nil {
			return nil, err
		}
		u.CreatedAt = u.CreatedAt.UTC()
		for i := range u.Posts {
			u.Posts[i].CreatedAt = u.Posts[i].CreatedAt.UTC()
		}
		us = append(us, u)
	}
	return us, rows.Err()
}

// readRawBatched reads the users, then their posts in one statement, and
// stitches them.
func readRawBatched(ctx context.Context, db *sql.DB, postsQuery string) ([]JUser, error) {
	rows, err := db.QueryContext(ctx, rawUsers)
	if err != nil {
		return nil, err
	}
	var us []JUser
	for rows.Next() {
		var u JUser
		if err := rows.Scan(&u.ID, &u.Name, &u.Email, &u.CreatedAt); err != nil {
			rows.Close()
			return nil, err
		}
		u.CreatedAt = u.CreatedAt.UTC()
		u.Posts = []JPost{}
		us = append(us, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	ids := make([]int64, len(us))
	at := make(map[int64]int, len(us))
	for i, u := range us {
		ids[i] = u.ID
		at[u.ID] = i
	}
	rows, err = db.QueryContext(ctx, postsQuery, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p JPost
		if err := rows.Scan(&p.ID, &p.Title, &p.AuthorID, &p.Rank, &p.Big, &p.Amount, &p.CreatedAt); err != nil {
			return nil, err
		}
		p.CreatedAt = p.CreatedAt.UTC()
		u := &us[at[p.AuthorID]]
		u.Posts = append(u.Posts, p)
	}
	return us, rows.Err()
}

// includeStrategy is one way of reading the users with their posts.
type includeStrategy struct {
	name string
	read func() ([]JUser, error)
}

// BenchmarkIncludeStrategy measures the two load strategies of a to-many
// include on PostgreSQL (relations-notes.md B.1): the built one, one
// statement per relation level (ormBatched, and rawBatched, its
// hand-written floor), against a single statement with the children
// aggregated to JSON by the database (jsonSubquery, a correlated scalar
// subquery, and jsonLateral), decoded with encoding/json. Each size runs
// with all posts and with a per-parent take of 3; the take also runs
// rawBatchedLateral, a batched statement with a LATERAL LIMIT in place of
// the ROW_NUMBER window. Before timing, every strategy's result must
// deep-equal the ORM's (same times in UTC, same decimal text, the same
// int64 beyond 2^53).
func BenchmarkIncludeStrategy(b *testing.B) {
	ctx := context.Background()
	sizes := []struct{ users, posts int }{{100, 10}, {2000, 10}, {50, 500}}
	take3 := viborm.Rel{OrderBy: []viborm.Order{viborm.Asc("id")}, Take: ptr(3)}
	all := viborm.Rel{OrderBy: []viborm.Order{viborm.Asc("id")}}
	for _, size := range sizes {
		b.Run(fmt.Sprintf("users=%d/posts=%d", size.users, size.posts), func(b *testing.B) {
			drv, err := postgres.Open(postgresSchemaDSN(b))
			if err != nil {
				b.Fatal(err)
			}
			client := openClient(b, viborm.Config{Driver: drv, Models: []viborm.AnyModel{JUsers, JPosts}})
			db := drv.DB()
			seedIncludeStrategy(b, db, size.users, size.posts)
			for _, take := range []string{"all", "take3"} {
				rel, jsonSub, jsonLat, raw := all, jsonSubquery, jsonLateral, rawPosts
				if take == "take3" {
					rel, jsonSub, jsonLat, raw = take3, jsonSubqueryTake3, jsonLateralTake3, rawPostsTake3
				}
				strategies := []includeStrategy{
					{"ormBatched", func() ([]JUser, error) {
						return JUsers.FindMany(ctx, client, viborm.FindMany{OrderBy: []viborm.Order{viborm.Asc("id")}, Include: viborm.Include{"posts": rel}})
					}},
					{"rawBatched", func() ([]JUser, error) { return readRawBatched(ctx, db, raw) }},
					{"jsonSubquery", func() ([]JUser, error) { return readJSONAgg(ctx, db, jsonSub) }},
					{"jsonLateral", func() ([]JUser, error) { return readJSONAgg(ctx, db, jsonLat) }},
				}
				if take == "take3" {
					strategies = append(strategies, includeStrategy{"rawBatchedLateral", func() ([]JUser, error) {
						return readRawBatched(ctx, db, rawPostsLateralTake3)
					}})
				}
				want, err := strategies[0].read()
				if err != nil {
					b.Fatal(err)
				}
				wantPosts := size.posts
				if take == "take3" {
					wantPosts = min(3, size.posts)
				}
				if len(want) != size.users || len(want[0].Posts) != wantPosts {
					b.Fatalf("%s: %d users, %d posts for the first", take, len(want), len(want[0].Posts))
				}
				for _, st := range strategies {
					b.Run(take+"/"+st.name, func(b *testing.B) {
						got, err := st.read()
						if err != nil {
							b.Fatal(err)
						}
						for i := range max(len(got), len(want)) {
							if i >= len(got) || i >= len(want) || !reflect.DeepEqual(got[i], want[i]) {
								b.Fatalf("user %d differs from ormBatched (%d users, want %d):\n got %+v\nwant %+v",
									i, len(got), len(want), got[min(i, len(got)-1)], want[min(i, len(want)-1)])
							}
						}
						b.ReportAllocs()
						for b.Loop() {
							if _, err := st.read(); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
			}
		})
	}
}

// seedIncludeStrategy inserts users with posts each, in two statements.
// The posts' big column starts at 2^53+1, which a float64 cannot hold.
func seedIncludeStrategy(b *testing.B, db *sql.DB, users, posts int) {
	b.Helper()
	for _, st := range []struct {
		query string
		n     int
	}{
		{`INSERT INTO j_users (name, email, "createdAt")
		 SELECT 'user ' || i, 'user' || i || '@example.com', timestamptz '2026-01-02 03:04:05.123456+00' + i * interval '1 second'
		 FROM generate_series(1, $1::int) i`, users},
		{`INSERT INTO j_posts (title, "authorId", rank, big, amount, "createdAt")
		 SELECT 'post ' || j, u.id, j, 9007199254740993 + j, j * 1.25, u."createdAt" + j * interval '1.5 ms'
		 FROM j_users u, generate_series(0, $1::int - 1) j ORDER BY u.id, j`, posts},
	} {
		if _, err := db.Exec(st.query, st.n); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec(`ANALYZE j_users; ANALYZE j_posts`); err != nil {
		b.Fatal(err)
	}
}
