package sqlgen_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/viborm/viborm-go/internal/dialect"
	"github.com/viborm/viborm-go/internal/schema"
	"github.com/viborm/viborm-go/internal/sqlgen"
	"github.com/viborm/viborm-go/s"
)

func TestCreateJunctionGolden(t *testing.T) {
	post := schema.Build("post", []s.Option{s.BigInt("id").ID().Autoincrement(), s.ManyToMany("tags", "tag"), s.Table("posts")}, reflectRow)
	tag := schema.Build("tag", []s.Option{s.String("slug").ID(), s.ManyToMany("posts", "post"), s.Table("tags")}, reflectRow)
	rels, err := schema.Resolve(map[string]*schema.Model{"post": post, "tag": tag})
	if err != nil {
		t.Fatal(err)
	}
	js := schema.Junctions(rels)
	if len(js) != 1 {
		t.Fatalf("junctions = %v", js)
	}
	for _, tc := range []struct {
		d    dialect.Dialect
		want []string
	}{
		{dialect.SQLite, []string{
			"CREATE TABLE IF NOT EXISTS `post_tag` (`postId` INTEGER NOT NULL, `tagId` TEXT NOT NULL, PRIMARY KEY (`postId`, `tagId`), " +
				"CONSTRAINT `post_tag_postId_fkey` FOREIGN KEY (`postId`) REFERENCES `posts` (`id`) ON DELETE CASCADE ON UPDATE CASCADE, " +
				"CONSTRAINT `post_tag_tagId_fkey` FOREIGN KEY (`tagId`) REFERENCES `tags` (`slug`) ON DELETE CASCADE ON UPDATE CASCADE)",
			"CREATE INDEX IF NOT EXISTS `post_tag_tagId_idx` ON `post_tag` (`tagId`)"}},
		{dialect.Postgres, []string{
			`CREATE TABLE IF NOT EXISTS "post_tag" ("postId" BIGINT NOT NULL, "tagId" TEXT NOT NULL, PRIMARY KEY ("postId", "tagId"), ` +
				`CONSTRAINT "post_tag_postId_fkey" FOREIGN KEY ("postId") REFERENCES "posts" ("id") ON DELETE CASCADE ON UPDATE CASCADE, ` +
				`CONSTRAINT "post_tag_tagId_fkey" FOREIGN KEY ("tagId") REFERENCES "tags" ("slug") ON DELETE CASCADE ON UPDATE CASCADE)`,
			`CREATE INDEX IF NOT EXISTS "post_tag_tagId_idx" ON "post_tag" ("tagId")`}},
		{dialect.MySQL, []string{
			"CREATE TABLE IF NOT EXISTS `post_tag` (`postId` BIGINT NOT NULL, `tagId` VARCHAR(191) NOT NULL, PRIMARY KEY (`postId`, `tagId`), " +
				"CONSTRAINT `post_tag_postId_fkey` FOREIGN KEY (`postId`) REFERENCES `posts` (`id`) ON DELETE CASCADE ON UPDATE CASCADE, " +
				"CONSTRAINT `post_tag_tagId_fkey` FOREIGN KEY (`tagId`) REFERENCES `tags` (`slug`) ON DELETE CASCADE ON UPDATE CASCADE, " +
				"INDEX `post_tag_tagId_idx` (`tagId`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"}},
	} {
		if got := sqlgen.CreateJunction(tc.d, js[0]); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.d.Name(), got, tc.want)
		}
	}
	if d := sqlgen.JunctionDrift(js[0], nil); len(d) != 1 || !strings.Contains(d[0], `junction table "post_tag"`) {
		t.Errorf("drift of a missing junction = %q", d)
	}
	if d := sqlgen.JunctionDrift(js[0], map[string]bool{"postId": true}); len(d) != 1 || !strings.Contains(d[0], `"tagId"`) {
		t.Errorf("drift of a junction without tagId = %q", d)
	}
}
