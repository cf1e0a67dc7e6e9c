package engine

import (
	"context"
	"strconv"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/exec"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/internal/verr"
)

// The model writes. Each normalises its arguments with internal/query and
// runs the statements of internal/exec inside Write. W is the public
// package's where type: internal/query reads nested wheres of that type.

// Create inserts a row (with its nested writes) and returns it as stored.
func Create[T any](ctx context.Context, c *Conn, md *schema.Model, inv Inval, data map[string]any, sel, omit []string) (T, error) {
	return Write(ctx, c, md, "create", inv, func(c *Conn, md *schema.Model, deps *[]string) (T, error) {
		var zero T
		if c.hasNested(data) {
			wr, fields, err := c.normWrite(md, data, true, sel, omit)
			if err != nil {
				return zero, err
			}
			*deps = wr.Deps(c.e.rels, schema.WriteCreate)
			return exec.CreateWrite[T](ctx, c, wr, fields)
		}
		items, err := query.Data(md, data, true, exec.Now(), c.e.cfg.Update)
		if err != nil {
			return zero, err
		}
		fields, err := query.Select(md, sel, omit)
		if err != nil {
			return zero, err
		}
		return exec.Create[T](ctx, c, md, items, fields)
	})
}

// CreateMany inserts rows and returns how many were inserted.
func CreateMany[D ~map[string]any](ctx context.Context, c *Conn, md *schema.Model, inv Inval, data []D) (int64, error) {
	return Write(ctx, c, md, "createMany", inv, func(c *Conn, md *schema.Model, _ *[]string) (int64, error) {
		rows := make([][]query.Set, len(data))
		now := exec.Now()
		for i, d := range data {
			field := "data[" + strconv.Itoa(i) + "]"
			if c.hasNested(d) {
				return 0, verr.Validationf(field, "%v", verr.Validationf("data", "nested writes are not supported in createMany: use Create"))
			}
			items, err := query.Data(md, d, true, now, c.e.cfg.Update)
			if err != nil {
				return 0, verr.Validationf(field, "%v", err)
			}
			rows[i] = items
		}
		if len(rows) == 0 {
			return 0, nil
		}
		return exec.CreateMany(ctx, c, md, rows)
	})
}

// Update changes the row selected by a unique where (with its nested
// writes) and returns it.
func Update[T any, W ~map[string]any](ctx context.Context, c *Conn, md *schema.Model, inv Inval, where W, data map[string]any, sel, omit []string) (T, error) {
	return Write(ctx, c, md, "update", inv, func(c *Conn, md *schema.Model, deps *[]string) (T, error) {
		var zero T
		wh, err := query.UniqueWhereRels(md, c.e.rels, where, c.e.cfg.Cond)
		if err != nil {
			return zero, err
		}
		if c.hasNested(data) {
			wr, fields, err := c.normWrite(md, data, false, sel, omit)
			if err != nil {
				return zero, err
			}
			*deps = wr.Deps(c.e.rels, schema.WriteUpdate)
			return exec.UpdateWrite[T](ctx, c, wh, wr, fields)
		}
		items, err := query.Data(md, data, false, exec.Now(), c.e.cfg.Update)
		if err != nil {
			return zero, err
		}
		*deps = md.WriteDeps(c.e.rels, schema.WriteUpdate, setFields(items))
		fields, err := query.Select(md, sel, omit)
		if err != nil {
			return zero, err
		}
		return exec.Update[T](ctx, c, md, wh, items, fields)
	})
}

// UpdateMany changes every row matching where and returns how many matched.
func UpdateMany[W ~map[string]any](ctx context.Context, c *Conn, md *schema.Model, inv Inval, where W, data map[string]any) (int64, error) {
	return Write(ctx, c, md, "updateMany", inv, func(c *Conn, md *schema.Model, deps *[]string) (int64, error) {
		wh, err := query.WhereRels(md, c.e.rels, where, "where", c.e.cfg.Cond)
		if err != nil {
			return 0, err
		}
		items, err := query.Data(md, data, false, exec.Now(), c.e.cfg.Update)
		if err != nil {
			return 0, err
		}
		if len(items) == 0 {
			return 0, verr.Validationf("data", "nothing to update")
		}
		*deps = md.WriteDeps(c.e.rels, schema.WriteUpdate, setFields(items))
		return exec.ExecCount(ctx, c, c.q, sqlgen.Update(c.e.d, md, items, wh))
	})
}

// Upsert updates the row selected by a unique where, or creates one, and
// returns it (see exec.Upsert and query.PlanUpsert).
func Upsert[T any, W ~map[string]any](ctx context.Context, c *Conn, md *schema.Model, inv Inval, where W, create, update map[string]any, sel, omit []string) (T, error) {
	return Write(ctx, c, md, "upsert", inv, func(c *Conn, md *schema.Model, deps *[]string) (T, error) {
		var zero T
		*deps = md.WriteDeps(c.e.rels, schema.WriteUpdate, nil)
		if c.hasNested(create) || c.hasNested(update) {
			return zero, verr.Validationf("data", "nested writes are not supported in upsert: use Create or Update")
		}
		wh, err := query.UniqueWhereRels(md, c.e.rels, where, c.e.cfg.Cond)
		if err != nil {
			return zero, err
		}
		now := exec.Now()
		cItems, err := query.Data(md, create, true, now, c.e.cfg.Update)
		if err != nil {
			return zero, err
		}
		uItems, err := query.Data(md, update, false, now, c.e.cfg.Update)
		if err != nil {
			return zero, err
		}
		fields, err := query.Select(md, sel, omit)
		if err != nil {
			return zero, err
		}
		nu, _ := query.PlanUpsert(md, where, create, cItems, uItems, c.e.d.Has(dialect.UpsertAnyKey), c.e.cfg.Cond)
		return exec.Upsert[T](ctx, c, md, nu, wh, cItems, uItems, fields)
	})
}

// Delete removes the row selected by a unique where and returns it.
func Delete[T any, W ~map[string]any](ctx context.Context, c *Conn, md *schema.Model, inv Inval, where W, sel, omit []string) (T, error) {
	return Write(ctx, c, md, "delete", inv, func(c *Conn, md *schema.Model, deps *[]string) (T, error) {
		var zero T
		*deps = md.WriteDeps(c.e.rels, schema.WriteDelete, nil)
		wh, err := query.UniqueWhereRels(md, c.e.rels, where, c.e.cfg.Cond)
		if err != nil {
			return zero, err
		}
		fields, err := query.Select(md, sel, omit)
		if err != nil {
			return zero, err
		}
		return exec.Delete[T](ctx, c, md, wh, fields)
	})
}

// DeleteMany removes every row matching where and returns how many.
func DeleteMany[W ~map[string]any](ctx context.Context, c *Conn, md *schema.Model, inv Inval, where W) (int64, error) {
	return Write(ctx, c, md, "deleteMany", inv, func(c *Conn, md *schema.Model, deps *[]string) (int64, error) {
		*deps = md.WriteDeps(c.e.rels, schema.WriteDelete, nil)
		wh, err := query.WhereRels(md, c.e.rels, where, "where", c.e.cfg.Cond)
		if err != nil {
			return 0, err
		}
		return exec.ExecCount(ctx, c, c.q, sqlgen.Delete(c.e.d, md, wh))
	})
}

// hasNested reports whether data holds a nested write.
func (c *Conn) hasNested(data map[string]any) bool {
	for _, v := range data {
		if _, ok := c.e.cfg.Nested(v); ok {
			return true
		}
	}
	return false
}

// normWrite normalises the data of a create or update with nested writes,
// and its selection.
func (c *Conn) normWrite(md *schema.Model, data map[string]any, create bool, sel, omit []string) (*query.Write, []*schema.Field, error) {
	wr, err := query.WriteData(md, c.e.rels, data, create, exec.Now(), c.e.cfg.Update, c.e.cfg.Nested, c.e.cfg.Cond)
	if err != nil {
		return nil, nil, err
	}
	fields, err := query.Select(md, sel, omit)
	return wr, fields, err
}

// setFields returns the fields items assign.
func setFields(items []query.Set) []*schema.Field {
	out := make([]*schema.Field, len(items))
	for i, it := range items {
		out[i] = it.F
	}
	return out
}
