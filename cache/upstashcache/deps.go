package upstashcache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/viborm/viborm-go/cache"
)

// DefaultIndexPrefix starts the names of the dependency sets when
// [Options.IndexPrefix] is empty: the same prefix, and the same single-node
// layout "<prefix>d:<tag>", as rediscache's dependency index.
const DefaultIndexPrefix = "viborm-index:"

// depSlack is added to a record's score and to its set's lifetime, so that
// clocks a little apart (each process scores with its own) never expire a
// record before its entry.
const depSlack = time.Second

var _ cache.DepIndexer = (*Driver)(nil)

// depKey names the dependency set of tag.
func (d *Driver) depKey(tag string) string { return d.indexPrefix + "d:" + tag }

// IndexDeps records key in the dependency set of each tag of deps, a sorted
// set scored by the record's expiry in Unix milliseconds (now + ttl + 1s),
// in one /pipeline request: ZADD GT (a record is only ever extended), then
// PEXPIRE NX and PEXPIRE GT so that the set lives as long as its
// longest-lived record, then ZREMRANGEBYSCORE, which trims the records that
// have expired.
func (d *Driver) IndexDeps(ctx context.Context, key string, deps []string, ttl time.Duration) error {
	if err := checkKeys(ctx, append([]string{key}, deps...)...); err != nil {
		return err
	}
	if len(deps) == 0 || ttl <= 0 {
		return nil
	}
	now := time.Now().UnixMilli()
	life := ttl + depSlack
	score := strconv.FormatInt(now+life.Milliseconds(), 10)
	cmds := make([][]string, 0, 4*len(deps))
	seen := make(map[string]bool, len(deps))
	for _, t := range deps {
		if t == "" {
			return errors.New("upstashcache: empty dependency tag")
		}
		if seen[t] {
			continue
		}
		seen[t] = true
		k := d.depKey(t)
		cmds = append(cmds,
			[]string{"ZADD", k, "GT", score, key},
			[]string{"PEXPIRE", k, ms(life), "NX"},
			[]string{"PEXPIRE", k, ms(life), "GT"},
			[]string{"ZREMRANGEBYSCORE", k, "-inf", strconv.FormatInt(now, 10)},
		)
	}
	_, errs, err := d.Pipeline(ctx, cmds)
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// ClearDeps deletes the entries of every key recorded, by an unexpired
// record, in the dependency set of any of tags, and the sets themselves.
// Each set is first renamed (RENAME, atomic) to a name of its own, so that
// records written from then on go to a new set this call never touches;
// then it is drained in batches of [Options.ScanCount] members (ZRANGE,
// then one /pipeline of DEL and ZREM), and its cost is proportional to the
// entries it removes. A set left half-drained by a failure expires with its
// records.
func (d *Driver) ClearDeps(ctx context.Context, tags []string) error {
	if err := checkKeys(ctx, tags...); err != nil {
		return err
	}
	for _, t := range tags {
		if err := d.clearDep(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

func (d *Driver) clearDep(ctx context.Context, tag string) error {
	var b [8]byte
	rand.Read(b[:])
	tmp := d.indexPrefix + "dx:" + hex.EncodeToString(b[:]) + ":" + tag
	if _, err := d.do(ctx, []string{"RENAME", d.depKey(tag), tmp}); err != nil {
		var ae *APIError
		if errors.As(err, &ae) && strings.Contains(strings.ToLower(ae.Message), "no such key") {
			return nil // nothing recorded under tag
		}
		return err
	}
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	res, errs, err := d.Pipeline(ctx, [][]string{
		{"ZREMRANGEBYSCORE", tmp, "-inf", now},
		{"ZRANGE", tmp, "0", strconv.Itoa(d.depBatch - 1)},
	})
	for {
		if err == nil {
			err = errors.Join(errs...)
		}
		if err != nil {
			return err
		}
		var members []string
		if err := json.Unmarshal(res[len(res)-1], &members); err != nil {
			return protocolError("ZRANGE", res[len(res)-1])
		}
		if len(members) == 0 {
			_, err := d.do(ctx, []string{"DEL", tmp})
			return err
		}
		res, errs, err = d.Pipeline(ctx, [][]string{
			append([]string{"DEL"}, members...),
			append([]string{"ZREM", tmp}, members...),
			{"ZRANGE", tmp, "0", strconv.Itoa(d.depBatch - 1)},
		})
	}
}
