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

// junctionName names a constraint or index of a junction table on cols,
// shortened like constraintName.
func junctionName(table, suffix string, cols []string) string {
	fs := make([]*schema.Field, len(cols))
	for i, c := range cols {
		fs[i] = &schema.Field{Column: c}
	}
	return constraintName(table, suffix, fs)
}

// CreateJunction returns the statements that create the junction table of
// a many-to-many relation (if it does not exist): a column per id field of
// each side, of that field's type, the composite primary key (Source
// columns first), a foreign key per side with ON DELETE CASCADE and ON
// UPDATE CASCADE, and an index on the Target columns for reads from that
// side.
func CreateJunction(d dialect.Dialect, j *schema.Junction) []string {
	b := newBuilder(d)
	b.s("CREATE TABLE IF NOT EXISTS ").ident(j.Table).s(" (")
	sides := []struct {
		cols []string
		refs []*schema.Field
		tbl  string
	}{{j.SourceCols, j.SourceRefs, j.Source.Table}, {j.TargetCols, j.TargetRefs, j.Target.Table}}
	first := true
	for _, sd := range sides {
		for i, c := range sd.cols {
			if !first {
				b.s(", ")
			}
			first = false
			def := sd.refs[i].Def
			def.Default, def.Value, def.Nullable, def.UpdatedAt = s.NoDefault, nil, false, false
			b.ident(c).s(" ").s(d.ColumnType(def, false)).s(" NOT NULL")
		}
	}
	b.s(", PRIMARY KEY (")
	for i, c := range append(append([]string(nil), j.SourceCols...), j.TargetCols...) {
		if i > 0 {
			b.s(", ")
		}
		b.ident(c)
	}
	b.s(")")
	for _, sd := range sides {
		b.s(", CONSTRAINT ").ident(junctionName(j.Table, "fkey", sd.cols)).s(" FOREIGN KEY (")
		for i, c := range sd.cols {
			if i > 0 {
				b.s(", ")
			}
			b.ident(c)
		}
		b.s(") REFERENCES ").ident(sd.tbl).s(" (")
		b.columns(sd.refs)
		b.s(") ON DELETE CASCADE ON UPDATE CASCADE")
	}
	idx := junctionName(j.Table, "idx", j.TargetCols)
	ib := newBuilder(d)
	if d.Has(dialect.IndexInTable) {
		b.s(", INDEX ").ident(idx).s(" (")
	} else {
		ib.s("CREATE INDEX IF NOT EXISTS ").ident(idx).s(" ON ").ident(j.Table).s(" (")
	}
	target := b
	if !d.Has(dialect.IndexInTable) {
		target = ib
	}
	for i, c := range j.TargetCols {
		if i > 0 {
			target.s(", ")
		}
		target.ident(c)
	}
	target.s(")")
	b.s(")").s(d.TableOptions())
	out := []string{string(b.buf)}
	if len(ib.buf) > 0 {
		out = append(out, string(ib.buf))
	}
	return out
}

// JunctionDrift describes how the junction table j, whose columns are have
// (none when the table is missing), differs from what Push creates.
func JunctionDrift(j *schema.Junction, have map[string]bool) []string {
	if len(have) == 0 {
		return []string{fmt.Sprintf("junction table %q of %s and %s is missing: run Client.Push", j.Table, j.Source.Name, j.Target.Name)}
	}
	var miss []string
	for _, c := range append(append([]string(nil), j.SourceCols...), j.TargetCols...) {
		if !have[c] {
			miss = append(miss, fmt.Sprintf("junction table %q has no column %q: drop and push it again, or migrate", j.Table, c))
		}
	}
	return miss
}
