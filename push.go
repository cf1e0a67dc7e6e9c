package viborm

import "context"

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
	sts, err := c.e.Push(ctx, opts != nil && opts.DryRun)
	return PushResult{Statements: sts}, public(err)
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
func (c *Client) CheckSchema(ctx context.Context) error { return public(c.e.CheckSchema(ctx)) }
