package dialect_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestNoDialectComparisonOutsideDialect keeps the rule of the layout: the
// ORM's code outside this package (the root package and the other internal
// stages) asks a dialect a method or a Feature, it never tests which dialect
// it has.
func TestNoDialectComparisonOutsideDialect(t *testing.T) {
	bad := regexp.MustCompile(`[=!]=\s*dialect\.(SQLite|Postgres|MySQL)\b|\bdialect\.(SQLite|Postgres|MySQL)\s*[=!]=|` +
		`(Name|Dialect)\(\)\s*[=!]=\s*"|switch\s+[^{]*\b(Name|Dialect)\(\)\s*\{|\bcase\s+"(sqlite|postgres|mysql|mariadb)"`)
	root := filepath.Join("..", "..")
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// The ORM: the root package and the internal stages.
			rel, _ := filepath.Rel(root, path)
			if rel == "." || rel == "internal" || strings.HasPrefix(rel, "internal"+string(filepath.Separator)) && rel != filepath.Join("internal", "dialect") {
				return nil
			}
			return filepath.SkipDir
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if m := bad.FindString(line); m != "" {
				t.Errorf("%s:%d compares dialects (%q): ask the Dialect instead", path, i+1, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("no Go file was read")
	}
}
