package viborm

import (
	"context"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/sqlb"
)

// PushOptions configures [Client.Push]. A nil *PushOptions means defaults.
type PushOptions struct {
	// DryRun returns the statements without running them.
	DryRun bool
}

// PushResult lists the statements Push ran (or would run).
type PushResult struct {
	Statements []string
}

// Push creates the schema's tables, keys, indexes and foreign keys that do
// not exist yet (CREATE … IF NOT EXISTS). It never alters or drops anything,
// so running it again is harmless. Tables are created in foreign key order.
func (c *Client) Push(ctx context.Context, opts *PushOptions) (PushResult, error) {
	var res PushResult
	for _, md := range c.modelsInFKOrder() {
		res.Statements = append(res.Statements, md.ddl(c.d, c.rels[md])...)
	}
	if opts != nil && opts.DryRun {
		return res, nil
	}
	for _, st := range res.Statements {
		if _, err := c.db.ExecContext(ctx, st); err != nil {
			return res, c.dbError(err, nil, "push")
		}
	}
	return res, nil
}

func (c *Client) modelsInFKOrder() []*model {
	names := make([]string, 0, len(c.models))
	for n := range c.models {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []*model
	state := map[*model]int{}
	var visit func(md *model)
	visit = func(md *model) {
		if state[md] != 0 {
			return
		}
		state[md] = 1
		for _, r := range c.rels[md] {
			if len(r.fields) > 0 && r.target != md {
				visit(r.target)
			}
		}
		state[md] = 2
		out = append(out, md)
	}
	for _, n := range names {
		visit(c.models[n])
	}
	return out
}

func constraintName(table, suffix string, fs []*field) string {
	parts := []string{table}
	for _, f := range fs {
		parts = append(parts, f.column)
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

// ddl returns the statements that create md.
func (md *model) ddl(d *dialect.Dialect, rels []*relation) []string {
	b := sqlb.New(d)
	b.S("CREATE TABLE IF NOT EXISTS ").Ident(md.table).S(" (")
	inlinePK := false
	for i, f := range md.fields {
		if i > 0 {
			b.S(", ")
		}
		col(b, f)
		b.S(" ").S(d.ColumnType(f.def, f.autoID))
		if f.autoID && d == dialect.SQLite {
			inlinePK = true
			continue
		}
		if !f.def.Nullable {
			b.S(" NOT NULL")
		}
	}
	if !inlinePK {
		b.S(", PRIMARY KEY (")
		columns(b, md.pk)
		b.S(")")
	}
	for _, u := range md.uniques[1:] {
		b.S(", CONSTRAINT ").Ident(constraintName(md.table, "key", u)).S(" UNIQUE (")
		columns(b, u)
		b.S(")")
	}
	for _, r := range rels {
		if len(r.fields) == 0 {
			continue
		}
		if r.def.Kind == 2 /* one-to-one */ && !md.isUniqueSet(r.fields) {
			b.S(", CONSTRAINT ").Ident(constraintName(md.table, "key", r.fields)).S(" UNIQUE (")
			columns(b, r.fields)
			b.S(")")
		}
		b.S(", CONSTRAINT ").Ident(constraintName(md.table, "fkey", r.fields)).S(" FOREIGN KEY (")
		columns(b, r.fields)
		b.S(") REFERENCES ").Ident(r.target.table).S(" (")
		columns(b, r.refs)
		b.S(")")
		if r.def.OnDelete != "" {
			b.S(" ON DELETE ").S(string(r.def.OnDelete))
		}
		if r.def.OnUpdate != "" {
			b.S(" ON UPDATE ").S(string(r.def.OnUpdate))
		}
	}
	var idx []string
	for _, o := range md.indexes {
		fs := make([]*field, len(o.Fields))
		for i, n := range o.Fields {
			fs[i] = md.byName[n]
		}
		name := o.Name
		if name == "" {
			name = constraintName(md.table, "idx", fs)
		}
		if d == dialect.MySQL {
			b.S(", INDEX ").Ident(name).S(" (")
			columns(b, fs)
			b.S(")")
			continue
		}
		ib := sqlb.New(d)
		ib.S("CREATE INDEX IF NOT EXISTS ").Ident(name).S(" ON ").Ident(md.table).S(" (")
		columns(ib, fs)
		ib.S(")")
		idx = append(idx, ib.SQL())
	}
	b.S(")")
	if d == dialect.MySQL {
		b.S(" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin")
	}
	return append([]string{b.SQL()}, idx...)
}
