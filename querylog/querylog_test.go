package querylog_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	viborm "github.com/viborm/viborm-go"
	"github.com/viborm/viborm-go/driver/sqlite"
	"github.com/viborm/viborm-go/querylog"
	"github.com/viborm/viborm-go/s"
)

type user struct {
	ID    int64
	Email string
}

var users = viborm.Model[user]("user", s.BigInt("id").ID().Autoincrement(), s.String("email").Unique())

// newClient returns a client of an in-memory SQLite database with the user
// table, logging through h.
func newClient(t *testing.T, h viborm.Hook) *viborm.Client {
	t.Helper()
	drv, err := sqlite.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db, err := viborm.NewClient(viborm.Config{Driver: drv, Models: []viborm.AnyModel{users}, Hooks: []viborm.Hook{h}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Push(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestRedactsValues checks the query log: SQL, duration, rows, model and
// operation, the error; argument values, literals in the SQL and quoted
// parts of errors only with Args.
func TestRedactsValues(t *testing.T) {
	const secret = "S3CR3T-7a6b"
	for _, withArgs := range []bool{false, true} {
		t.Run(fmt.Sprint("args=", withArgs), func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			db := newClient(t, querylog.New(log, &querylog.Options{Args: withArgs}))
			ctx := context.Background()
			buf.Reset()
			if _, err := users.FindMany(ctx, db, viborm.FindMany{Where: viborm.Where{"email": secret}, Take: new(4321)}); err != nil {
				t.Fatal(err)
			}
			if _, err := db.QueryRaw(ctx, "SELECT '"+secret+"' FROM nope"); err == nil {
				t.Fatal("want an error")
			}
			out := buf.String()
			for _, want := range []string{`"level":"DEBUG","msg":"viborm: query"`, `"model":"user"`, `"operation":"findMany"`, `"duration":`, `"level":"ERROR"`, `"err":`} {
				if !strings.Contains(out, want) {
					t.Errorf("log lacks %s:\n%s", want, out)
				}
			}
			if leaked := strings.Contains(out, secret) || strings.Contains(out, "4321"); leaked != withArgs {
				t.Errorf("values in the log: %v, want %v:\n%s", leaked, withArgs, out)
			}
			if !withArgs && !strings.Contains(out, `"args":1`) {
				t.Errorf("log lacks the number of arguments:\n%s", out)
			}
		})
	}
}

// TestLevels checks that a disabled level costs no record and that slow
// statements are logged at SlowLevel.
func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db := newClient(t, querylog.New(log, nil))
	ctx := context.Background()
	buf.Reset()
	if _, err := users.Count(ctx, db, viborm.Count{}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("debug records at level info: %s", buf.String())
	}
	slow := newClient(t, querylog.New(log, &querylog.Options{SlowThreshold: time.Nanosecond}))
	buf.Reset()
	if _, err := users.Count(ctx, slow, viborm.Count{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "viborm: slow query") {
		t.Errorf("slow statement not logged at WARN: %s", buf.String())
	}
}

// ExampleNew logs every statement of a client at debug level, and those
// that take 200ms or more at warn level.
func ExampleNew() {
	drv, err := sqlite.Open(":memory:")
	if err != nil {
		panic(err)
	}
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	db, err := viborm.NewClient(viborm.Config{
		Driver: drv,
		Models: []viborm.AnyModel{users},
		Hooks:  []viborm.Hook{querylog.New(log, &querylog.Options{SlowThreshold: 200 * time.Millisecond})},
	})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	fmt.Println(db.Dialect())
	// Output: sqlite
}
