package viborm_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	name := "viborm_" + suffix()
	switch dialect {
	case "sqlite":
		d, err := sqlite.Open(":memory:")
		if err != nil {
			t.Fatal(err)
		}
		return d
	case "postgres":
		dsn := testenv.PostgresDSN(t)
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec("CREATE SCHEMA " + name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			admin.Exec("DROP SCHEMA " + name + " CASCADE")
			admin.Close()
		})
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		d, err := postgres.Open(dsn + sep + "search_path=" + name)
		if err != nil {
			t.Fatal(err)
		}
		return d
	case "mysql":
		dsn := testenv.MySQLDSN(t)
		admin, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			admin.Exec("DROP DATABASE " + name)
			admin.Close()
		})
		slash := strings.Index(dsn, ")/")
		rest := dsn[slash+2:]
		q := ""
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			q = rest[i:]
		}
		d, err := mysql.Open(dsn[:slash+2] + name + q)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	t.Fatalf("unknown dialect %q", dialect)
	return nil
}

// newClient returns a client on an isolated database with the test schema
// pushed.
func newClient(t testing.TB, dialect string, cfg viborm.Config) *viborm.Client {
	t.Helper()
	cfg.Driver = openDriver(t, dialect)
	if cfg.Models == nil {
		cfg.Models = allModels
	}
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

func forEachDialect(t *testing.T, f func(t *testing.T, dialect string)) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			f(t, d)
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
