package readmetest

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/cache"
	"github.com/viborm/viborm-go/cache/cachetest"
	"github.com/viborm/viborm-go/cache/memorycache"
	"github.com/viborm/viborm-go/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite README.md's Go code blocks from this package's regions")

const readmePath = "../../README.md"

// readmeBlock is a ```go block of README.md and the region it shows, named
// by the "<!-- readme: NAME -->" line right above it.
type readmeBlock struct {
	name       string
	line       int // the line of the opening fence, 1-based
	start, end int // the code's lines: lines[start:end]
}

var (
	markerRE = regexp.MustCompile(`^<!--\s*readme:\s*([\w-]+)\s*-->\s*$`)
	beginRE  = regexp.MustCompile(`^\s*// readme:begin ([\w-]+)\s*$`)
	endRE    = regexp.MustCompile(`^\s*// readme:end ([\w-]+)\s*$`)
)

// parseReadme returns README.md's lines and its ```go blocks. A block
// without a marker gets the name "".
func parseReadme(t *testing.T) ([]string, []readmeBlock) {
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var blocks []readmeBlock
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```go" {
			continue
		}
		b := readmeBlock{line: i + 1, start: i + 1}
		if i > 0 {
			if m := markerRE.FindStringSubmatch(lines[i-1]); m != nil {
				b.name = m[1]
			}
		}
		j := i + 1
		for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
			j++
		}
		if j == len(lines) {
			t.Fatalf("README.md:%d: the ```go block is not closed", b.line)
		}
		b.end = j
		blocks = append(blocks, b)
		i = j
	}
	return lines, blocks
}

// regions returns the marked regions of this package's Go files, by name,
// without their common indentation.
func regions(t *testing.T) map[string]string {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var name string
		var body []string
		sc := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if m := beginRE.FindStringSubmatch(line); m != nil {
				if name != "" {
					t.Fatalf("%s:%d: region %q begins inside region %q", f, n, m[1], name)
				}
				name, body = m[1], nil
				continue
			}
			if m := endRE.FindStringSubmatch(line); m != nil {
				if m[1] != name {
					t.Fatalf("%s:%d: end of region %q, but %q is open", f, n, m[1], name)
				}
				if _, dup := out[name]; dup {
					t.Fatalf("%s:%d: region %q is defined twice", f, n, name)
				}
				out[name] = dedent(body)
				name = ""
				continue
			}
			if name != "" {
				body = append(body, line)
			}
		}
		if name != "" {
			t.Fatalf("%s: region %q is not closed", f, name)
		}
	}
	return out
}

// dedent drops leading and trailing blank lines and the tabs every other
// line starts with.
func dedent(lines []string) string {
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if indent < 0 || n < indent {
			indent = n
		}
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			out[i] = l[indent:]
		}
	}
	return strings.Join(out, "\n")
}

// normalize makes whitespace insignificant.
func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestReadmeCodeBlocksAreCompiled keeps README.md's Go code compiling: every
// ```go block must be marked with the name of a region of this package and
// show that region, whitespace aside; every region must be shown. With
// -update, the blocks are rewritten from the regions.
func TestReadmeCodeBlocksAreCompiled(t *testing.T) {
	lines, blocks := parseReadme(t)
	regs := regions(t)
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block: is the parser broken?")
	}
	shown := map[string]bool{}
	var out []string // the rewritten README, with -update
	last := 0
	for _, b := range blocks {
		code := strings.Join(lines[b.start:b.end], "\n")
		if b.name == "" {
			t.Errorf("README.md:%d: a ```go block needs a <!-- readme: NAME --> line right above it, naming a region of internal/readmetest", b.line)
			continue
		}
		want, ok := regs[b.name]
		if !ok {
			t.Errorf("README.md:%d: block %q: no region // readme:begin %s in internal/readmetest", b.line, b.name, b.name)
			continue
		}
		shown[b.name] = true
		if *update {
			out = append(out, lines[last:b.start]...)
			out = append(out, strings.Split(want, "\n")...)
			last = b.end
			continue
		}
		if normalize(code) != normalize(want) {
			t.Errorf("README.md:%d: block %q differs from its compiled region (run go test ./internal/readmetest -run Readme -update).\nREADME:\n%s\n\nregion:\n%s", b.line, b.name, firstDiff(code, want), firstDiff(want, code))
		}
	}
	for name := range regs {
		if !shown[name] {
			t.Errorf("region %q is shown by no README.md block", name)
		}
	}
	if *update && !t.Failed() {
		out = append(out, lines[last:]...)
		if err := os.WriteFile(readmePath, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// firstDiff returns a's lines from the first one that b lacks, a few of them.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var bn []string
	for _, l := range bl {
		if n := normalize(l); n != "" {
			bn = append(bn, n)
		}
	}
	k := 0
	for i, l := range al {
		n := normalize(l)
		if n == "" {
			continue
		}
		if k < len(bn) && bn[k] == n {
			k++
			continue
		}
		return strings.Join(al[i:min(len(al), i+4)], "\n")
	}
	return "(a prefix of the other)"
}

func TestReadmeRegionParser(t *testing.T) {
	got := dedent([]string{"", "\tif x {", "\t\ty()", "", "\t}", ""})
	if want := "if x {\n\ty()\n\n}"; got != want {
		t.Errorf("dedent = %q, want %q", got, want)
	}
	if normalize("a  b\n\tc") != normalize("a b c") {
		t.Error("normalize keeps whitespace")
	}
}

func TestReadmeCacheExample(t *testing.T) {
	key, users, err := cacheExample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^viborm:v2:user:findMany:[0-9a-f]{32}$`).MatchString(key) {
		t.Errorf("key %q is not what the README's comment says (viborm:v2:user:findMany:<128-bit hash>)", key)
	}
	if len(users) != 1 {
		t.Errorf("read %v, want the loader's one user", users)
	}
}

func TestReadmeObserverExample(t *testing.T) {
	hits, misses, err := observerExample(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	if hits != 2 || misses != 1 {
		t.Errorf("observer counted %d hits and %d misses, want 2 and 1", hits, misses)
	}
}

func TestReadmeORMExample(t *testing.T) {
	t.Chdir(t.TempDir()) // the example opens app.db in the working directory
	var users []User
	if err := ormExample(context.Background(), func(u []User) { users = u }); err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].Email != "a@acme.io" {
		t.Errorf("FindMany = %+v, want the one user whose email contains @ACME.io, case aside", users)
	}
	if _, err := os.Stat("app.db"); err != nil {
		t.Errorf("the example's database: %v", err)
	}
}

// TestReadmeRedisCacheConformance runs the driver kit over the README's
// hand-written Redis driver, on the real Redis.
func TestReadmeRedisCacheConformance(t *testing.T) {
	// The kit keeps to namespaces of its own, so it shares the database
	// without flushing it.
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), DB: 9})
	t.Cleanup(func() { rdb.Close() })
	cachetest.Run(t, func(t *testing.T) cache.Driver { return RedisCache{rdb} }, nil)
}

func TestReadmeRedisUsage(t *testing.T) {
	if err := redisUsage(); err != nil {
		t.Fatal(err)
	}
}

func TestReadmeUpstashUsage(t *testing.T) {
	// Building the driver and the cache sends no request.
	t.Setenv("UPSTASH_REDIS_REST_URL", "https://example.invalid")
	t.Setenv("UPSTASH_REDIS_REST_TOKEN", "token")
	if err := upstashUsage(); err != nil {
		t.Fatal(err)
	}
}

// NewMyCache stands for the reader's driver in the README's test block.
func NewMyCache() cache.Driver {
	d, err := memorycache.New(nil)
	if err != nil {
		panic(fmt.Sprintf("memorycache.New: %v", err))
	}
	return d
}

// readme:begin driver-test
func TestMyCache(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Driver {
		return NewMyCache() // a fresh driver for each check
	}, nil)
}

// readme:end driver-test
