package sqlgen

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/s"
)

// constraintName names a constraint or index of table on fs, shortened
// with a hash when it would be too long for every database.
func constraintName(table, suffix string, fs []*schema.Field) string {
	parts := []string{table}
	for _, f := range fs {
		parts = append(parts, f.Column)
	}
	parts = append(parts, suffix)
	n := strings.Join(parts, "_")
	if len(n) > 60 {
		h := fnv.New32a()
		h.Write([]byte(n))
		n = n[:50] + "_" + strconv.FormatUint(uint64(h.Sum32()), 16)
	}
	return n
}

// CreateTable returns the statements that create md's table (if it does
// not exist) with its keys, unique constraints, foreign keys (rels) and
// indexes.
func CreateTable(d dialect.Dialect, md *schema.Model, rels []*schema.Relation) []string {
	b := newBuilder(d)
	b.s("CREATE TABLE IF NOT EXISTS ").ident(md.Table).s(" (")
	inlinePK := false
	for i, f := range md.Fields {
		if i > 0 {
			b.s(", ")
		}
		b.col(f)
		b.s(" ").s(d.ColumnType(f.Def, f.AutoID))
		if f.AutoID && d.Has(dialect.InlineAutoID) {
			inlinePK = true
			continue
		}
		if !f.Def.Nullable {
			b.s(" NOT NULL")
		}
	}
	if !inlinePK {
		b.s(", PRIMARY KEY (")
		b.columns(md.PK)
		b.s(")")
	}
	for _, u := range md.Uniques[1:] {
		b.s(", CONSTRAINT ").ident(constraintName(md.Table, "key", u)).s(" UNIQUE (")
		b.columns(u)
		b.s(")")
	}
	for _, r := range rels {
		if len(r.Fields) == 0 {
			continue
		}
		if r.Def.Kind == s.OneToOneKind && !md.IsUniqueSet(r.Fields) {
			b.s(", CONSTRAINT ").ident(constraintName(md.Table, "key", r.Fields)).s(" UNIQUE (")
			b.columns(r.Fields)
			b.s(")")
		}
		b.s(", CONSTRAINT ").ident(constraintName(md.Table, "fkey", r.Fields)).s(" FOREIGN KEY (")
		b.columns(r.Fields)
		b.s(") REFERENCES ").ident(r.Target.Table).s(" (")
		b.columns(r.Refs)
		b.s(")")
		if r.Def.OnDelete != "" {
			b.s(" ON DELETE ").s(string(r.Def.OnDelete))
		}
		if r.Def.OnUpdate != "" {
			b.s(" ON UPDATE ").s(string(r.Def.OnUpdate))
		}
	}
	var idx []string
	for _, o := range md.Indexes {
		fs := make([]*schema.Field, len(o.Fields))
		for i, n := range o.Fields {
			fs[i] = md.ByName[n]
		}
		name := o.Name
		if name == "" {
			name = constraintName(md.Table, "idx", fs)
		}
		if d.Has(dialect.IndexInTable) {
			b.s(", INDEX ").ident(name).s(" (")
			b.columns(fs)
			b.s(")")
			continue
		}
		ib := newBuilder(d)
		ib.s("CREATE INDEX IF NOT EXISTS ").ident(name).s(" ON ").ident(md.Table).s(" (")
		ib.columns(fs)
		ib.s(")")
		idx = append(idx, string(ib.buf))
	}
	b.s(")").s(d.TableOptions())
	return append([]string{string(b.buf)}, idx...)
}

// AddColumn is the ALTER TABLE that adds f's column to md's table, NOT
// NULL when f is not nullable.
func AddColumn(d dialect.Dialect, md *schema.Model, f *schema.Field) string {
	b := newBuilder(d)
	b.s("ALTER TABLE ").ident(md.Table).s(" ADD COLUMN ").ident(f.Column).s(" ").s(d.ColumnType(f.Def, false))
	if !f.Def.Nullable {
		b.s(" NOT NULL")
	}
	return string(b.buf)
}

// Drift describes how the table of md, whose columns are have (none when
// the table is missing), differs from the model: the missing table, or
// each missing column with the ALTER TABLE that adds it. Push never alters
// a table, so these are left to the user or a migration.
func Drift(d dialect.Dialect, md *schema.Model, have map[string]bool) []string {
	if len(have) == 0 {
		return []string{fmt.Sprintf("table %q of model %s is missing: run Client.Push", md.Table, md.Name)}
	}
	var miss []string
	for _, f := range md.Fields {
		if have[f.Column] {
			continue
		}
		hint := ""
		if !f.Def.Nullable {
			hint = " (with a DEFAULT when the table has rows)"
		}
		miss = append(miss, fmt.Sprintf("table %q has no column %q (field %s.%s): add it, e.g. %s%s, or migrate; Push never alters a table",
			md.Table, f.Column, md.Name, f.Name, AddColumn(d, md, f), hint))
	}
	return miss
}
