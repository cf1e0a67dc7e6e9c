package exec

import (
	"context"
	"database/sql"
	"slices"
	"strconv"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/rowcodec"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/internal/verr"
)

// This file runs nested writes (query.Write): the rows a create or update
// connects or creates through its relations, all in the operation's one
// transaction. A row whose foreign key the parent holds (owning to-one)
// is found or created before the parent is written; rows holding the
// parent's key (one-to-many, the other side of a one-to-one) and junction
// rows are written after it.

// CreateWrite inserts w and its nested writes in one transaction and
// returns the row.
func CreateWrite[T any](ctx context.Context, c Conn, w *query.Write, sel []*schema.Field) (out T, err error) {
	err = c.InTx(ctx, func(q Querier) error {
		pk, err := createTree(ctx, c, q, w)
		if err != nil {
			return err
		}
		out, err = ByPK[T](ctx, c, q, w.Model, pk, sel)
		return err
	})
	return out, err
}

// UpdateWrite updates the row wh selects with w and its nested writes in
// one transaction and returns it; an error with code NotFound when there
// is none.
func UpdateWrite[T any](ctx context.Context, c Conn, wh *query.Expr, w *query.Write, sel []*schema.Field) (out T, err error) {
	md := w.Model
	err = byKey(ctx, c, md, wh, "no record to update", func(q Querier, pk []any) error {
		items, err := ownedItems(ctx, c, q, w)
		if err != nil {
			return err
		}
		if len(items) > 0 {
			if _, err := c.Exec(ctx, q, sqlgen.Update(c.Dialect(), md, items, query.PKExpr(md, pk))); err != nil {
				return err
			}
		}
		newPK := slices.Clone(pk)
		for i, f := range md.PK {
			for _, it := range items {
				if it.F == f && it.Op == 0 {
					newPK[i] = it.V
				}
			}
		}
		if err := relateAfter(ctx, c, q, w, newPK, true); err != nil {
			return err
		}
		out, err = ByPK[T](ctx, c, q, md, newPK, sel)
		return err
	})
	return out, err
}

// createTree inserts w with its nested writes and returns its primary key.
func createTree(ctx context.Context, c Conn, q Querier, w *query.Write) ([]any, error) {
	items, err := ownedItems(ctx, c, q, w)
	if err != nil {
		return nil, err
	}
	pk, err := insertPK(ctx, c, q, w.Model, items)
	if err != nil {
		return nil, err
	}
	return pk, relateAfter(ctx, c, q, w, pk, false)
}

// ownedItems returns w's assignments with the foreign keys of its owning
// to-one nested writes: the key of the connected row, of the row created
// first, or NULL to disconnect.
func ownedItems(ctx context.Context, c Conn, q Querier, w *query.Write) ([]query.Set, error) {
	items := slices.Clone(w.Items)
	for _, n := range w.Nested {
		if !n.Owning() {
			continue
		}
		r := n.Rel
		var vals []any
		switch {
		case n.Unset:
			vals = make([]any, len(r.Fields))
		case len(n.Connect) == 1:
			v, err := findVals(ctx, c, q, r.Target, n.Connect[0], r.Refs)
			if err != nil {
				return nil, err
			}
			if v == nil {
				return nil, notFoundAt(n.Path+".connect", r.Target)
			}
			vals = v
		case len(n.Create) == 1:
			tpk, err := createTree(ctx, c, q, n.Create[0])
			if err != nil {
				return nil, err
			}
			if vals, err = keyVals(ctx, c, q, r.Target, tpk, r.Refs); err != nil {
				return nil, err
			}
		default:
			continue
		}
		for i, f := range r.Fields {
			items = append(items, query.Set{F: f, V: vals[i]})
		}
	}
	slices.SortFunc(items, func(a, b query.Set) int { return a.F.Idx - b.F.Idx })
	return items, nil
}

// relateAfter runs w's nested writes that need the parent row, whose
// primary key is pk: rows holding the parent's key and junction rows. On
// an update, relating a row to the parent through a one-to-one relation
// first unrelates the row related before, when its foreign key is nullable
// (otherwise the unique foreign key fails the write).
func relateAfter(ctx context.Context, c Conn, q Querier, w *query.Write, pk []any, update bool) error {
	for _, n := range w.Nested {
		if n.Owning() {
			continue
		}
		r := n.Rel
		t := r.Target
		if j := r.Junction; j != nil {
			for _, cw := range n.Create {
				cpk, err := createTree(ctx, c, q, cw)
				if err != nil {
					return err
				}
				if err := link(ctx, c, q, j, pk, cpk); err != nil {
					return err
				}
			}
			for i, e := range n.Connect {
				cpk, err := FindPK(ctx, c, q, t, e)
				if err != nil {
					return err
				}
				if cpk == nil {
					return notFoundAt(n.Path+".connect["+strconv.Itoa(i)+"]", t)
				}
				if err := link(ctx, c, q, j, pk, cpk); err != nil {
					return err
				}
			}
			for _, e := range n.Disconnect {
				cpk, err := FindPK(ctx, c, q, t, e)
				if err != nil {
					return err
				}
				if cpk == nil {
					continue // not related: nothing to disconnect
				}
				if _, err := c.Exec(ctx, q, sqlgen.Delete(c.Dialect(), j.Link, linkKey(j, pk, cpk))); err != nil {
					return err
				}
			}
			continue
		}
		b := r.Back
		key, err := keyVals(ctx, c, q, w.Model, pk, b.Refs)
		if err != nil {
			return err
		}
		replace := update && !r.IsToMany() && len(n.Create)+len(n.Connect) > 0 && nullable(b.Fields)
		if n.Unset || replace {
			nulls := make([]query.Set, len(b.Fields))
			for i, f := range b.Fields {
				nulls[i] = query.Set{F: f}
			}
			if _, err := c.Exec(ctx, q, sqlgen.Update(c.Dialect(), t, nulls, query.KeyExpr(b.Fields, key))); err != nil {
				return err
			}
		}
		for _, cw := range n.Create {
			cw := *cw
			cw.Items = slices.Clone(cw.Items)
			for i, f := range b.Fields {
				cw.Items = append(cw.Items, query.Set{F: f, V: key[i]})
			}
			slices.SortFunc(cw.Items, func(a, b query.Set) int { return a.F.Idx - b.F.Idx })
			if _, err := createTree(ctx, c, q, &cw); err != nil {
				return err
			}
		}
		set := make([]query.Set, len(b.Fields))
		for i, f := range b.Fields {
			set[i] = query.Set{F: f, V: key[i]}
		}
		for i, e := range n.Connect {
			cpk, err := FindPK(ctx, c, q, t, e)
			if err != nil {
				return err
			}
			if cpk == nil {
				p := n.Path + ".connect"
				if r.IsToMany() {
					p += "[" + strconv.Itoa(i) + "]"
				}
				return notFoundAt(p, t)
			}
			if _, err := c.Exec(ctx, q, sqlgen.Update(c.Dialect(), t, set, query.PKExpr(t, cpk))); err != nil {
				return err
			}
		}
		for _, e := range n.Disconnect {
			mine := &query.Expr{Kind: query.And, Kids: []query.Expr{*e, *query.KeyExpr(b.Fields, key)}}
			cpk, err := FindPK(ctx, c, q, t, mine)
			if err != nil {
				return err
			}
			if cpk == nil {
				continue // not related: nothing to disconnect
			}
			nulls := make([]query.Set, len(b.Fields))
			for i, f := range b.Fields {
				nulls[i] = query.Set{F: f}
			}
			if _, err := c.Exec(ctx, q, sqlgen.Update(c.Dialect(), t, nulls, query.PKExpr(t, cpk))); err != nil {
				return err
			}
		}
	}
	return nil
}

// linkKey is the condition on the junction row relating the source row
// spk to the target row tpk.
func linkKey(j *schema.Junction, spk, tpk []any) *query.Expr {
	return query.KeyExpr(append(j.SourceLink(), j.TargetLink()...), append(slices.Clone(spk), tpk...))
}

// link inserts the junction row relating spk to tpk unless it exists
// (connecting related rows again is not an error).
func link(ctx context.Context, c Conn, q Querier, j *schema.Junction, spk, tpk []any) error {
	have, err := FindPK(ctx, c, q, j.Link, linkKey(j, spk, tpk))
	if err != nil || have != nil {
		return err
	}
	fs := append(j.SourceLink(), j.TargetLink()...)
	vals := append(slices.Clone(spk), tpk...)
	items := make([]query.Set, len(fs))
	for i, f := range fs {
		items[i] = query.Set{F: f, V: vals[i]}
	}
	_, err = c.Exec(ctx, q, sqlgen.Insert(c.Dialect(), j.Link, [][]query.Set{items}, nil))
	return err
}

// findVals returns the values of fields of the row w selects (nil if none).
func findVals(ctx context.Context, c Conn, q Querier, md *schema.Model, w *query.Expr, fields []*schema.Field) ([]any, error) {
	qu := &query.Query{Where: w, Sel: fields, Take: 1, HasTake: true}
	rows, err := c.Query(ctx, q, sqlgen.Select(c.Dialect(), md, qu, true))
	if err != nil {
		return nil, err
	}
	return firstVals(rows, fields)
}

// firstVals returns the values of fields in the first of rows (nil if
// none), decoded from the database's types, and closes rows.
func firstVals(rows *sql.Rows, fields []*schema.Field) ([]any, error) {
	defer rows.Close()
	raws := make([]any, len(fields))
	dest := make([]any, len(raws))
	for i := range raws {
		dest[i] = &raws[i]
	}
	found, err := ScanFirst(rows, dest...)
	if !found || err != nil {
		return nil, err
	}
	for i, f := range fields {
		if raws[i], err = rowcodec.FromDB(f.Kind, raws[i]); err != nil {
			return nil, err
		}
	}
	return raws, nil
}

// keyVals returns the values of fields of md's row whose primary key is
// pk: pk itself when fields are the primary key.
func keyVals(ctx context.Context, c Conn, q Querier, md *schema.Model, pk []any, fields []*schema.Field) ([]any, error) {
	if slices.Equal(fields, md.PK) {
		return pk, nil
	}
	v, err := findVals(ctx, c, q, md, query.PKExpr(md, pk), fields)
	if err == nil && v == nil {
		err = notFound("the row just written is not found by its key")
	}
	return v, err
}

// insertPK inserts the row items of md and returns its primary key.
func insertPK(ctx context.Context, c Conn, q Querier, md *schema.Model, items []query.Set) ([]any, error) {
	d := c.Dialect()
	if d.Has(dialect.Returning) {
		rows, err := c.Query(ctx, q, sqlgen.Insert(d, md, [][]query.Set{items}, md.PK))
		if err != nil {
			return nil, err
		}
		pk, err := firstVals(rows, md.PK)
		if err == nil && pk == nil {
			err = &verr.Error{Code: verr.CodeDatabase, Message: "insert returned no row"}
		}
		return pk, err
	}
	res, err := c.Exec(ctx, q, sqlgen.Insert(d, md, [][]query.Set{items}, nil))
	if err != nil {
		return nil, err
	}
	return insertedPK(md, items, res)
}

// insertedPK is the primary key of the row an INSERT without RETURNING
// wrote from items: the values items set, and the generated id from res for
// an auto-increment key field they leave out.
func insertedPK(md *schema.Model, items []query.Set, res sql.Result) ([]any, error) {
	pk := make([]any, len(md.PK))
	for i, f := range md.PK {
		for _, it := range items {
			if it.F == f {
				pk[i] = it.V
			}
		}
		if pk[i] == nil && f.AutoID {
			id, err := res.LastInsertId()
			if err != nil {
				return nil, err
			}
			pk[i] = id
		}
	}
	return pk, nil
}

// notFoundAt is the NotFound error of a nested connect at path.
func notFoundAt(path string, t *schema.Model) error {
	return &verr.Error{Code: verr.CodeNotFound, Field: path, Message: "no " + t.Name + " record found to connect"}
}

func nullable(fs []*schema.Field) bool {
	for _, f := range fs {
		if !f.Def.Nullable {
			return false
		}
	}
	return true
}
