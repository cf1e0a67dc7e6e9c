package viborm_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/driver/mysql"
	"github.com/viborm/viborm-go/driver/postgres"
	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/internal/testenv"
	"github.com/viborm/viborm-go/s"
)

// User covers every scalar type.
type User struct {
	ID        int64
	Email     string
	Name      *string
	Age       int
	Score     float64
	Balance   string // decimal
	Active    bool
	Role      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Meta      json.RawMessage
	Avatar    []byte
	Big       int64
	Born      *time.Time
}

type Post struct {
	ID        string
	Title     string
	AuthorID  int64 `viborm:"authorId"`
	Published bool
	Views     int
	Rating    *float64
}

var Users = viborm.Model[User]("user",
	s.BigInt("id").ID().Autoincrement(),
	s.String("email").Unique(),
	s.String("name").Nullable(),
	s.Int("age").Default(0),
	s.Float("score").Default(0.0),
	s.Decimal("balance").Precision(12, 2).Default("0.00"),
	s.Boolean("active").Default(true),
	s.Enum("role", "user", "admin", "guest").Default("user"),
	s.DateTime("createdAt").Now(),
	s.DateTime("updatedAt").UpdatedAt(),
	s.JSON("meta").Nullable(),
	s.Bytes("avatar").Nullable(),
	s.BigInt("big").Default(0),
	s.DateTime("born").Nullable(),
	s.OneToMany("posts", "post"),
	s.Table("users"),
	s.Index("age"),
)

var Posts = viborm.Model[Post]("post",
	s.String("id").ID().UUID(),
	s.String("title"),
	s.BigInt("authorId").Map("author_id"),
	s.Boolean("published").Default(false),
	s.Int("views").Default(0),
	s.Float("rating").Nullable(),
	s.ManyToOne("author", "user").Fields("authorId").References("id").OnDelete(s.Cascade),
	s.Table("posts"),
	s.Unique("authorId", "title"),
)

// Tags is a dynamic model of Rows with a compound id.
var Tags = viborm.Model[viborm.Row]("tag",
	s.String("ns"),
	s.String("name"),
	s.Int("weight").Default(1),
	s.DateTime("at").Nullable(),
	s.Bytes("blob").Nullable(),
	s.Decimal("price").Nullable(),
	s.ID("ns", "name"),
	s.Table("tags"),
)

var allModels = []viborm.AnyModel{Users, Posts, Tags}

var dialects = []string{"sqlite", "postgres", "mysql"}

func suffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// openDriver returns a driver on an isolated, empty database: a private
// in-memory SQLite database, a fresh PostgreSQL schema or a fresh MariaDB
// database, dropped when the test ends.
func openDriver(t testing.TB, dialect string) viborm.Driver {
	t.Helper()
	var d viborm.Driver
	var err error
	switch dialect {
	case "sqlite":
		d, err = sqlite.Open(":memory:")
	case "postgres":
		d, err = postgres.Open(postgresSchemaDSN(t))
	case "mysql":
		d, err = mysql.Open(mysqlDatabaseDSN(t))
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// openSQLite opens the SQLite database dsn: a file path or ":memory:".
func openSQLite(t testing.TB, dsn string) *sqlite.Driver {
	t.Helper()
	d, err := sqlite.Open(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// postgresSchemaDSN creates a fresh PostgreSQL schema, dropped when the test
// ends, and returns the DSN of the test server with it as the search path.
func postgresSchemaDSN(t testing.TB) string {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	name := "viborm_" + suffix()
	createDropped(t, "pgx", dsn, "CREATE SCHEMA "+name, "DROP SCHEMA "+name+" CASCADE")
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + name
}

// mysqlDatabaseDSN creates a fresh MariaDB database, dropped when the test
// ends, and returns the DSN of the test server naming it.
func mysqlDatabaseDSN(t testing.TB) string {
	t.Helper()
	dsn := testenv.MySQLDSN(t)
	name := "viborm_" + suffix()
	createDropped(t, "mysql", dsn, "CREATE DATABASE "+name, "DROP DATABASE "+name)
	slash := strings.Index(dsn, ")/")
	rest := dsn[slash+2:]
	q := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		q = rest[i:]
	}
	return dsn[:slash+2] + name + q
}

// createDropped runs the statement create on the server at dsn (through the
// database/sql driver named driver), and drop when the test ends.
func createDropped(t testing.TB, driver, dsn, create, drop string) {
	t.Helper()
	admin, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(create); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(drop)
		admin.Close()
	})
}

// newClient returns a client on an isolated database with the test schema
// pushed.
func newClient(t testing.TB, dialect string, cfg viborm.Config) *viborm.Client {
	t.Helper()
	cfg.Driver = openDriver(t, dialect)
	if cfg.Models == nil {
		cfg.Models = allModels
	}
	return openClient(t, cfg)
}

// openClient returns a client of cfg, closed when the test ends, with its
// schema pushed.
func openClient(t testing.TB, cfg viborm.Config) *viborm.Client {
	t.Helper()
	db, err := viborm.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Push(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// seedUsers inserts n active users and n/2 inactive ones.
func seedUsers(t testing.TB, db *viborm.Client, n int) {
	t.Helper()
	rows := make([]viborm.Data, 0, n+n/2)
	for i := range n + n/2 {
		rows = append(rows, viborm.Data{"email": fmt.Sprintf("user%03d@example.com", i), "name": fmt.Sprintf("User %d", i),
			"age": 20 + i%50, "score": float64(i) / 3, "balance": "12.50", "active": i < n, "born": time.Date(1990, 1, 1+i%28, 0, 0, 0, 0, time.UTC)})
	}
	if _, err := Users.CreateMany(context.Background(), db, viborm.CreateMany{Data: rows}); err != nil {
		t.Fatal(err)
	}
}

func forEachDialect(t *testing.T, f func(t *testing.T, dialect string)) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}

// forEachCacheDriver runs f as a parallel subtest for each cache driver
// kind of cacheDrivers.
func forEachCacheDriver(t *testing.T, f func(t *testing.T, kind string)) {
	for _, kind := range cacheDrivers {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, kind)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// nil_db returns a *sql.DB that is never used: SQL generation needs none.
func nil_db() *sql.DB { return sql.OpenDB(nopConnector{}) }

type nopConnector struct{}

func (nopConnector) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no database")
}
func (nopConnector) Driver() driver.Driver { return nil }
