package viborm

import (
	"context"
	"slices"
	"strings"

	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
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
// not exist yet (CREATE … IF NOT EXISTS), and the junction table of each
// many-to-many pair (see [s.ManyToMany]). It never alters or drops anything,
// so running it again is harmless. Tables are created in foreign key order.
// Then it runs [Client.CheckSchema]: a table that existed without a column
// of its model is reported as an error naming the column.
func (c *Client) Push(ctx context.Context, opts *PushOptions) (PushResult, error) {
	var res PushResult
	if c.closed.Load() {
		return res, closedError("push")
	}
	for _, md := range schema.FKOrder(c.models, c.rels) {
		res.Statements = append(res.Statements, sqlgen.CreateTable(c.d, md, c.rels[md])...)
	}
	for _, j := range schema.Junctions(c.rels) { // after both sides' tables
		res.Statements = append(res.Statements, sqlgen.CreateJunction(c.d, j)...)
	}
	if opts != nil && opts.DryRun {
		return res, nil
	}
	for _, st := range res.Statements {
		if _, err := c.db.ExecContext(ctx, st); err != nil { // DDL is not reported to hooks
			return res, c.dbError(err, nil, "push")
		}
	}
	// Tables that existed are left as they are: report any drift.
	return res, c.CheckSchema(ctx)
}

// CheckSchema compares the models with the database: every model's table
// must exist and have a column for each of its fields, and every junction
// table of a many-to-many pair must exist with its two sides' columns. It returns nil when
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
		have, err := c.tableColumns(ctx, md.Table)
		if err != nil {
			return c.dbError(err, nil, "checkSchema")
		}
		miss := sqlgen.Drift(c.d, md, have)
		if len(miss) > 0 && first == "" {
			first = md.Name
		}
		problems = append(problems, miss...)
	}
	for _, j := range schema.Junctions(c.rels) {
		have, err := c.tableColumns(ctx, j.Table)
		if err != nil {
			return c.dbError(err, nil, "checkSchema")
		}
		miss := sqlgen.JunctionDrift(j, have)
		if len(miss) > 0 && first == "" {
			first = j.Source.Name
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
