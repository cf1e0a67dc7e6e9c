package sqlgen_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/query"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/s"
)

// item is the test model: a bigint autoincrement id, a unique slug, a
// nullable decimal, a nullable int and a text.
var item = schema.Build("item", []s.Option{
	s.BigInt("id").ID().Autoincrement(),
	s.String("slug").Unique(),
	s.Decimal("price").Nullable(),
	s.Int("stock").Nullable(),
	s.String("name"),
	s.Table("items"),
	s.Index("name"),
}, reflectRow)

func field(name string) *schema.Field { return item.ByName[name] }

func cond(op query.Op, v any) *query.Cond { return &query.Cond{Ops: []query.CondOp{{Op: op, V: v}}} }

func condOf(v any) (*query.Cond, bool) {
	c, ok := v.(*query.Cond)
	return c, ok
}

func mustWhere(t *testing.T, w map[string]any) *query.Expr {
	t.Helper()
	e, err := query.Where(item, w, "where", condOf)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type golden map[string]struct {
	sql  string
	args []any
}

func check(t *testing.T, name string, compile func(d dialect.Dialect) sqlgen.Stmt, want golden) {
	t.Helper()
	for _, d := range []dialect.Dialect{dialect.SQLite, dialect.Postgres, dialect.MySQL} {
		w, ok := want[d.Name()]
		if !ok {
			t.Fatalf("%s: no golden SQL for %s", name, d.Name())
		}
		st := compile(d)
		if st.SQL != w.sql || !reflect.DeepEqual(st.Args, w.args) {
			t.Errorf("%s/%s:\n got %s %#v\nwant %s %#v", name, d.Name(), st.SQL, st.Args, w.sql, w.args)
		}
	}
}

func TestSelectGolden(t *testing.T) {
	q := &query.Query{
		Where: mustWhere(t, map[string]any{"price": cond(query.OpGt, "9.5"), "name": cond(query.OpEndsWith, "x_")}),
		Order: []query.Order{{F: field("stock"), Nulls: query.NullsFirst}, {F: field("price"), Desc: true}},
		Skip:  3,
		Sel:   []*schema.Field{field("id"), field("slug")},
	}
	check(t, "select", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Select(d, item, q, true) }, golden{
		"sqlite": {"SELECT `id`, `slug` FROM `items` WHERE (`name` GLOB ? AND CAST(`price` AS NUMERIC) > CAST(? AS NUMERIC)) ORDER BY `stock` ASC NULLS FIRST, CAST(`price` AS NUMERIC) DESC LIMIT -1 OFFSET 3",
			[]any{"*x_", "9.5"}},
		"postgres": {`SELECT "id", "slug" FROM "items" WHERE ("name" LIKE $1 ESCAPE '!' AND "price" > $2) ORDER BY "stock" ASC NULLS FIRST, "price" DESC OFFSET 3 FOR UPDATE`,
			[]any{"%x!_", "9.5"}},
		"mysql": {"SELECT `id`, `slug` FROM `items` WHERE (`name` LIKE ? ESCAPE '!' AND `price` > ?) ORDER BY `stock` IS NULL DESC, `stock` ASC, `price` DESC LIMIT 18446744073709551615 OFFSET 3 FOR UPDATE",
			[]any{"%x!_", "9.5"}},
	})
}

func TestWhereGolden(t *testing.T) {
	w := map[string]any{
		"OR":   []map[string]any{{"stock": nil}, {"stock": &query.Cond{Ops: []query.CondOp{{Op: query.OpIn, V: []any{1, 2}}}}}},
		"NOT":  map[string]any{"name": &query.Cond{Ops: []query.CondOp{{Op: query.OpContains, V: "Ab"}}, CI: true}},
		"slug": cond(query.OpNotIn, []any{}),
	}
	q := &query.Query{Where: mustWhere(t, w), Sel: []*schema.Field{field("id")}}
	check(t, "where", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Select(d, item, q, false) }, golden{
		"sqlite":   {"SELECT `id` FROM `items` WHERE (NOT ((`name` LIKE ? ESCAPE '!')) AND (`stock` IS NULL OR `stock` IN (?, ?)) AND 1=1)", []any{"%Ab%", int64(1), int64(2)}},
		"postgres": {`SELECT "id" FROM "items" WHERE (NOT (("name" ILIKE $1 ESCAPE '!')) AND ("stock" IS NULL OR "stock" IN ($2, $3)) AND 1=1)`, []any{"%Ab%", int64(1), int64(2)}},
		"mysql":    {"SELECT `id` FROM `items` WHERE (NOT ((LOWER(`name`) LIKE ? ESCAPE '!')) AND (`stock` IS NULL OR `stock` IN (?, ?)) AND 1=1)", []any{"%ab%", int64(1), int64(2)}},
	})
}

func TestCountExistAggregateGroupByGolden(t *testing.T) {
	where := mustWhere(t, map[string]any{"name": "a"})
	count := &query.Query{Where: where, Take: 5, HasTake: true}
	check(t, "count", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Count(d, item, count) }, golden{
		"sqlite":   {"SELECT COUNT(*) FROM (SELECT 1 AS `_one` FROM `items` WHERE `name` = ? LIMIT 5) `_sub`", []any{"a"}},
		"postgres": {`SELECT COUNT(*) FROM (SELECT 1 AS "_one" FROM "items" WHERE "name" = $1 LIMIT 5) "_sub"`, []any{"a"}},
		"mysql":    {"SELECT COUNT(*) FROM (SELECT 1 AS `_one` FROM `items` WHERE `name` = ? LIMIT 5) `_sub`", []any{"a"}},
	})
	check(t, "exist", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Exist(d, item, &query.Query{Where: where}) }, golden{
		"sqlite":   {"SELECT 1 FROM `items` WHERE `name` = ? LIMIT 1", []any{"a"}},
		"postgres": {`SELECT 1 FROM "items" WHERE "name" = $1 LIMIT 1`, []any{"a"}},
		"mysql":    {"SELECT 1 FROM `items` WHERE `name` = ? LIMIT 1", []any{"a"}},
	})
	agg := &query.Query{}
	if err := agg.SetAggs(item, query.Aggregates{Count: []string{"_all"}, Avg: []string{"price"}, Max: []string{"stock"}}); err != nil {
		t.Fatal(err)
	}
	check(t, "aggregate", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Aggregate(d, item, agg) }, golden{
		"sqlite":   {"SELECT AVG(CAST(`price` AS REAL)), COUNT(*), MAX(`stock`) FROM `items`", nil},
		"postgres": {`SELECT AVG("price"), COUNT(*), MAX("stock") FROM "items"`, nil},
		"mysql":    {"SELECT AVG(`price`), COUNT(*), MAX(`stock`) FROM `items`", nil},
	})
	gb, err := query.GroupBy(item, []string{"name"}, map[string]any(nil), []query.OrderBy{{Field: "_sum.stock", Desc: true}}, nil, 0,
		query.Aggregates{Sum: []string{"stock"}}, map[string]map[string]*query.Cond{"_count": {"_all": cond(query.OpGte, 2)}}, condOf)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "groupBy", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.GroupBy(d, item, gb) }, golden{
		"sqlite":   {"SELECT `name`, SUM(`stock`) FROM `items` GROUP BY `name` HAVING COUNT(*) >= ? ORDER BY SUM(`stock`) DESC", []any{int64(2)}},
		"postgres": {`SELECT "name", SUM("stock") FROM "items" GROUP BY "name" HAVING COUNT(*) >= $1 ORDER BY SUM("stock") DESC`, []any{int64(2)}},
		"mysql":    {"SELECT `name`, SUM(`stock`) FROM `items` GROUP BY `name` HAVING COUNT(*) >= ? ORDER BY SUM(`stock`) DESC", []any{int64(2)}},
	})
}

func TestWritesGolden(t *testing.T) {
	rows := [][]query.Set{{{F: field("slug"), V: "a"}, {F: field("name"), V: "A"}}, {{F: field("slug"), V: "b"}, {F: field("name"), V: "B"}}}
	check(t, "insert", func(d dialect.Dialect) sqlgen.Stmt {
		return sqlgen.Insert(d, item, rows, []*schema.Field{field("id")})
	}, golden{
		"sqlite":   {"INSERT INTO `items` (`slug`, `name`) VALUES (?, ?), (?, ?) RETURNING `id`", []any{"a", "A", "b", "B"}},
		"postgres": {`INSERT INTO "items" ("slug", "name") VALUES ($1, $2), ($3, $4) RETURNING "id"`, []any{"a", "A", "b", "B"}},
		"mysql":    {"INSERT INTO `items` (`slug`, `name`) VALUES (?, ?), (?, ?) RETURNING `id`", []any{"a", "A", "b", "B"}},
	})
	check(t, "insert defaults", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Insert(d, item, [][]query.Set{{}}, nil) }, golden{
		"sqlite":   {"INSERT INTO `items` DEFAULT VALUES", nil},
		"postgres": {`INSERT INTO "items" DEFAULT VALUES`, nil},
		"mysql":    {"INSERT INTO `items` () VALUES ()", nil},
	})
	set := []query.Set{{F: field("stock"), Op: '/', V: int64(2)}, {F: field("name"), V: "n"}}
	pk := query.PKExpr(item, []any{int64(7)})
	check(t, "update", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Update(d, item, set, pk) }, golden{
		"sqlite":   {"UPDATE `items` SET `stock` = `stock` / ?, `name` = ? WHERE `id` = ?", []any{int64(2), "n", int64(7)}},
		"postgres": {`UPDATE "items" SET "stock" = "stock" / $1, "name" = $2 WHERE "id" = $3`, []any{int64(2), "n", int64(7)}},
		"mysql":    {"UPDATE `items` SET `stock` = `stock` DIV ?, `name` = ? WHERE `id` = ?", []any{int64(2), "n", int64(7)}},
	})
	check(t, "delete", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Delete(d, item, pk) }, golden{
		"sqlite":   {"DELETE FROM `items` WHERE `id` = ?", []any{int64(7)}},
		"postgres": {`DELETE FROM "items" WHERE "id" = $1`, []any{int64(7)}},
		"mysql":    {"DELETE FROM `items` WHERE `id` = ?", []any{int64(7)}},
	})
	nu := &query.Upsert{Key: []*schema.Field{field("slug")}, Vals: []any{"a"}}
	c := []query.Set{{F: field("slug"), V: "a"}, {F: field("name"), V: "A"}}
	u := []query.Set{{F: field("stock"), Op: '+', V: int64(1)}}
	sel := []*schema.Field{field("id"), field("stock")}
	check(t, "upsert", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Upsert(d, item, nu, c, u, sel) }, golden{
		"sqlite":   {"INSERT INTO `items` (`slug`, `name`) VALUES (?, ?) ON CONFLICT (`slug`) DO UPDATE SET `stock` = `items`.`stock` + ? RETURNING `id`, `stock`", []any{"a", "A", int64(1)}},
		"postgres": {`INSERT INTO "items" ("slug", "name") VALUES ($1, $2) ON CONFLICT ("slug") DO UPDATE SET "stock" = "items"."stock" + $3 RETURNING "id", "stock"`, []any{"a", "A", int64(1)}},
		"mysql":    {"INSERT INTO `items` (`slug`, `name`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `stock` = `stock` + ?", []any{"a", "A", int64(1)}},
	})
	check(t, "upsert without update", func(d dialect.Dialect) sqlgen.Stmt { return sqlgen.Upsert(d, item, nu, c, nil, sel[:1]) }, golden{
		"sqlite":   {"INSERT INTO `items` (`slug`, `name`) VALUES (?, ?) ON CONFLICT (`slug`) DO UPDATE SET `slug` = `items`.`slug` RETURNING `id`", []any{"a", "A"}},
		"postgres": {`INSERT INTO "items" ("slug", "name") VALUES ($1, $2) ON CONFLICT ("slug") DO UPDATE SET "slug" = "items"."slug" RETURNING "id"`, []any{"a", "A"}},
		"mysql":    {"INSERT INTO `items` (`slug`, `name`) VALUES (?, ?) ON DUPLICATE KEY UPDATE `slug` = `slug`", []any{"a", "A"}},
	})
}

func TestCreateTableGolden(t *testing.T) {
	owner := schema.Build("owner", []s.Option{s.Int("id").ID(), s.String("itemSlug"), s.ManyToOne("item", "item").Fields("itemSlug").References("slug").OnDelete(s.Cascade)}, reflectRow)
	rels, err := schema.Resolve(map[string]*schema.Model{"item": item, "owner": owner})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		d    dialect.Dialect
		want []string
	}{
		{dialect.SQLite, []string{
			"CREATE TABLE IF NOT EXISTS `items` (`id` INTEGER PRIMARY KEY AUTOINCREMENT, `slug` TEXT NOT NULL, `price` TEXT, `stock` INTEGER, `name` TEXT NOT NULL, CONSTRAINT `items_slug_key` UNIQUE (`slug`))",
			"CREATE INDEX IF NOT EXISTS `items_name_idx` ON `items` (`name`)"}},
		{dialect.Postgres, []string{
			`CREATE TABLE IF NOT EXISTS "items" ("id" BIGSERIAL NOT NULL, "slug" TEXT NOT NULL, "price" NUMERIC, "stock" INTEGER, "name" TEXT NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "items_slug_key" UNIQUE ("slug"))`,
			`CREATE INDEX IF NOT EXISTS "items_name_idx" ON "items" ("name")`}},
		{dialect.MySQL, []string{
			"CREATE TABLE IF NOT EXISTS `items` (`id` BIGINT AUTO_INCREMENT NOT NULL, `slug` VARCHAR(191) NOT NULL, `price` DECIMAL(30,10), `stock` INT, `name` VARCHAR(191) NOT NULL, PRIMARY KEY (`id`), CONSTRAINT `items_slug_key` UNIQUE (`slug`), INDEX `items_name_idx` (`name`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"}},
	} {
		if got := sqlgen.CreateTable(tc.d, item, rels[item]); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.d.Name(), got, tc.want)
		}
		fk := sqlgen.CreateTable(tc.d, owner, rels[owner])[0]
		q := func(n string) string { return string(tc.d.AppendIdent(nil, n)) }
		want := ", CONSTRAINT " + q("owner_itemSlug_fkey") + " FOREIGN KEY (" + q("itemSlug") + ") REFERENCES " + q("items") + " (" + q("slug") + ") ON DELETE CASCADE"
		if !strings.Contains(fk, want) {
			t.Errorf("%s: %s lacks %s", tc.d.Name(), fk, want)
		}
	}
	if got, want := sqlgen.AddColumn(dialect.Postgres, item, field("name")), `ALTER TABLE "items" ADD COLUMN "name" TEXT NOT NULL`; got != want {
		t.Errorf("AddColumn = %s, want %s", got, want)
	}
	drift := sqlgen.Drift(dialect.SQLite, item, map[string]bool{"id": true, "slug": true, "price": true, "stock": true})
	if len(drift) != 1 || !strings.Contains(drift[0], "ALTER TABLE `items` ADD COLUMN `name` TEXT NOT NULL") {
		t.Errorf("drift = %q", drift)
	}
	if drift := sqlgen.Drift(dialect.SQLite, item, nil); len(drift) != 1 || !strings.Contains(drift[0], "is missing") {
		t.Errorf("drift of a missing table = %q", drift)
	}
}

func TestLongConstraintNamesAreShortened(t *testing.T) {
	long := strings.Repeat("x", 70)
	md := schema.Build("m", []s.Option{s.Int("id").ID(), s.String(long).Unique()}, reflectRow)
	ddl := sqlgen.CreateTable(dialect.Postgres, md, nil)[0]
	i := strings.Index(ddl, "CONSTRAINT \"")
	name := ddl[i+len("CONSTRAINT \""):]
	name = name[:strings.IndexByte(name, '"')]
	if len(name) > 60 || !strings.HasPrefix(name, "m_xxx") {
		t.Errorf("constraint name %q (%d bytes)", name, len(name))
	}
}
