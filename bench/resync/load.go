package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/pgstore"
)

// region is one region as the loading and the divergence see it: its store
// on its direct pool, not through the proxy, and the clock that stamps its
// writes.
type region struct {
	name  xregion.Region
	store *pgstore.Store
	pool  *pgxpool.Pool // the store's
	clock *xregion.Clock
}

// value returns a fresh 100-byte value: random, as a real value compresses
// little.
func value(rng *rand.Rand) []byte {
	v := make([]byte, valueSize)
	for i := 0; i < len(v); i += 8 {
		x := rng.Uint64()
		for j := i; j < min(i+8, len(v)); j++ {
			v[j], x = byte(x), x>>8
		}
	}
	return v
}

// load makes the two regions equal, holding keys, as after a long time of
// replication: each key is written in a as a local write and reaches b as
// a peer batch from a, workers batches at once; then b's watermark for a
// moves to a's last change, as if a had shipped them, and one more write,
// made in b, is shipped to a, so that each region's watermark for the other
// stands at the other's head. A resync then reads only the changes made
// after the split.
func load(ctx context.Context, a, b region, keys []string, workers int, seed uint64) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	batches := slices.Collect(slices.Chunk(keys, loadBatch))
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batches) || ctx.Err() != nil {
					return
				}
				if err := loadBatchOf(ctx, a, b, batches[i], rand.New(rand.NewPCG(seed, uint64(i)))); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					next.Store(int64(len(batches)))
					return
				}
			}
		})
	}
	wg.Wait()
	if err := cmp.Or(firstErr, ctx.Err()); err != nil {
		return err
	}

	head, err := a.store.Backlog(ctx, xregion.Position{}, a.name)
	if err != nil {
		return fmt.Errorf("read a's head: %w", err)
	}
	if _, err := b.store.Apply(ctx, xregion.Batch{From: a.name, Through: head.Head}); err != nil {
		return fmt.Errorf("move b's watermark for a: %w", err)
	}
	if err := write(ctx, b, keys[:1], rand.New(rand.NewPCG(seed, 1<<32))); err != nil {
		return err
	}
	if err := visible(ctx, b.pool); err != nil {
		return err
	}
	if n, err := replicate.Ship(ctx, b.store, a.store); err != nil || n != 1 {
		return fmt.Errorf("ship b's last write to a: %d shipped (want 1): %v", n, err)
	}
	return nil
}

// visible waits until every transaction committed so far is readable
// through Store.Changes: until no transaction older than now is open
// anywhere on the server (see pgstore's Changes). Other programs' open
// transactions on a shared server would otherwise hide the writes a resync
// is to find in the changelogs.
func visible(ctx context.Context, pool *pgxpool.Pool) error {
	var next int64
	if err := pool.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&next); err != nil {
		return fmt.Errorf("read the next transaction id: %w", err)
	}
	deadline := time.Now().Add(visibleWithin)
	for {
		var xmin int64
		if err := pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&xmin); err != nil {
			return fmt.Errorf("read the oldest open transaction: %w", err)
		}
		if xmin >= next {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a transaction older than %d is still open on the server after %s, hiding changelogs", next, visibleWithin)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// loadBatchOf writes one batch of new keys in a and sends it to b.
func loadBatchOf(ctx context.Context, a, b region, keys []string, rng *rand.Rand) error {
	ws := make([]xregion.Write, len(keys))
	for i, k := range keys {
		v, err := a.clock.Stamp(a.name, xregion.Version{})
		if err != nil {
			return err
		}
		ws[i] = xregion.Write{Table: table, Record: xregion.Record{Key: k, Value: value(rng), Version: v}}
	}
	if _, err := a.store.Apply(ctx, xregion.Batch{Writes: ws}); err != nil {
		return fmt.Errorf("load a: %w", err)
	}
	if _, err := b.store.Apply(ctx, xregion.Batch{From: a.name, Writes: ws}); err != nil {
		return fmt.Errorf("load b: %w", err)
	}
	return nil
}

// write gives keys new values in region r as its services would: each
// write is stamped after the version it read (its Base), and committed as
// a local write, so it waits in r's changelog for the other region.
func write(ctx context.Context, r region, keys []string, rng *rand.Rand) error {
	for chunk := range slices.Chunk(keys, loadBatch) {
		current, err := r.store.Records(ctx, table, chunk)
		if err != nil {
			return fmt.Errorf("read in %s: %w", r.name, err)
		}
		if len(current) != len(chunk) {
			return fmt.Errorf("read in %s: %d of %d keys found", r.name, len(current), len(chunk))
		}
		ws := make([]xregion.Write, len(chunk))
		for i, rec := range current {
			v, err := r.clock.Stamp(r.name, rec.Version)
			if err != nil {
				return err
			}
			ws[i] = xregion.Write{Table: table, Record: xregion.Record{Key: rec.Key, Value: value(rng), Version: v, Base: rec.Version}}
		}
		if _, err := r.store.Apply(ctx, xregion.Batch{Writes: ws}); err != nil {
			return fmt.Errorf("write in %s: %w", r.name, err)
		}
	}
	return nil
}

// divergence is a set of keys the regions wrote apart, while split.
type divergence struct {
	onlyA, onlyB, both []string
}

func (d divergence) keys() int { return len(d.onlyA) + len(d.onlyB) + len(d.both) }

// pick chooses n keys at random that taken does not hold, adds them to it
// and splits them in three: changed in a only, in b only, in both.
func pick(rng *rand.Rand, keys []string, n int, taken map[int]bool) (divergence, error) {
	if n > len(keys)-len(taken) {
		return divergence{}, errors.New("not enough keys left to diverge")
	}
	chosen := make([]string, 0, n)
	for len(chosen) < n {
		i := rng.IntN(len(keys))
		if taken[i] {
			continue
		}
		taken[i] = true
		chosen = append(chosen, keys[i])
	}
	third := n / 3
	return divergence{onlyA: chosen[:third], onlyB: chosen[third : 2*third], both: chosen[2*third:]}, nil
}

// diverge writes d: a's own writes, b's own writes and, for keys both
// wrote, concurrent writes, half of them written in a first and half in b
// first, so that under last-write-wins each region wins some.
func diverge(ctx context.Context, a, b region, d divergence, rng *rand.Rand) error {
	half := len(d.both) / 2
	for _, step := range []struct {
		r    region
		keys []string
	}{
		{a, slices.Concat(d.onlyA, d.both[:half])},
		{b, slices.Concat(d.onlyB, d.both)},
		{a, d.both[half:]},
	} {
		if err := write(ctx, step.r, step.keys, rng); err != nil {
			return err
		}
	}
	return nil
}
