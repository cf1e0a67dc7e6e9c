package viborm

import (
	"context"
	"fmt"
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
// Then it runs [Client.CheckSchema]: a table that existed without a column
// of its model is reported as an error naming the column.
func (c *Client) Push(ctx context.Context, opts *PushOptions) (PushResult, error) {
	var res PushResult
	if c.closed.Load() {
		return res, closedError("push")
	}
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
	// Tables that existed are left as they are: report any drift.
	return res, c.CheckSchema(ctx)
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

// CheckSchema compares the models with the database: every model's table
// must exist and have a column for each of its fields. It returns nil when
// they match, and otherwise an [*Error] with code [CodeSchema] that names
// each missing table and column and what to run. [Client.Push] creates
// missing tables but never alters an existing one, so a column added to a
// model after its table was created must be added by hand (the message gives
// the ALTER TABLE statement) or by a migration.
//
// Push runs the check after creating tables, and NewClient runs it when
// Config.CheckSchema is set. Without it, the first query that names a
// missing column or table fails with CodeSchema too; it never answers
// wrongly.
func (c *Client) CheckSchema(ctx context.Context) error {
	if c.closed.Load() {
		return closedError("checkSchema")
	}
	names := make([]string, 0, len(c.models))
	for n := range c.models {
		names = append(names, n)
	}
	slices.Sort(names)
	var problems []string
	first := ""
	for _, n := range names {
		md := c.models[n]
		have, err := c.tableColumns(ctx, md.table)
		if err != nil {
			return c.dbError(err, nil, "checkSchema")
		}
		var miss []string
		if len(have) == 0 {
			miss = append(miss, fmt.Sprintf("table %q of model %s is missing: run Client.Push", md.table, md.name))
		} else {
			for _, f := range md.fields {
				if have[f.column] {
					continue
				}
				b := sqlb.New(c.d)
				b.S("ALTER TABLE ").Ident(md.table).S(" ADD COLUMN ").Ident(f.column).S(" ").S(c.d.ColumnType(f.def, false))
				hint := ""
				if !f.def.Nullable {
					b.S(" NOT NULL")
					hint = " (with a DEFAULT when the table has rows)"
				}
				miss = append(miss, fmt.Sprintf("table %q has no column %q (field %s.%s): add it, e.g. %s%s, or migrate; Push never alters a table",
					md.table, f.column, md.name, f.name, b.SQL(), hint))
			}
		}
		if len(miss) > 0 && first == "" {
			first = md.name
		}
		problems = append(problems, miss...)
	}
	if len(problems) == 0 {
		return nil
	}
	return &Error{Code: CodeSchema, Model: first, Op: "checkSchema",
		Message: "the database does not match the models: " + strings.Join(problems, "; ")}
}

// tableColumns returns the column names of table; none when it is missing.
func (c *Client) tableColumns(ctx context.Context, table string) (map[string]bool, error) {
	rows, err := c.db.QueryContext(ctx, c.d.ColumnsSQL(), table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}
