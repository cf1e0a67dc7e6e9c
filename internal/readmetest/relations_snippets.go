package readmetest

import (
	"context"

	viborm "github.com/viborm/viborm-go"
)

// relationsExample is the README's relations block, run against the ORM
// example's client.
func relationsExample(ctx context.Context, db *viborm.Client, cached *viborm.Cached, adaID int64) ([]User, error) {
	// readme:begin relations
	// A post created with its author connected, in one transaction.
	if _, err := Posts.Create(ctx, db, viborm.Create{Data: viborm.Data{
		"title":  "Relations",
		"author": viborm.Connect(viborm.Where{"id": adaID}),
	}}); err != nil {
		return nil, err
	}
	// Users who wrote a post titled like "Rel…", each with their last two
	// posts (Take applies per user) and the author back on each post: one
	// query per level, cached as one read that depends on user and post.
	users, err := Users.FindMany(ctx, cached, viborm.FindMany{
		Where: viborm.Where{"posts": viborm.Some(viborm.Where{"title": viborm.StartsWith("Rel")})},
		Include: viborm.Include{"posts": {
			OrderBy: []viborm.Order{viborm.Desc("title")},
			Take:    new(2),
			Include: viborm.Include{"author": {}},
		}},
	})
	// readme:end relations
	return users, err
}
