package resync

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/xregion/xregion"
)

// Applied is what Apply did.
type Applied struct {
	ToA, ToB int   // records each region received and stored
	Bytes    int64 // key and value bytes moved, both ways
	// Lost are the entries the stores added to their lost-update ledgers,
	// the first MaxListed of them; LostCount counts them all.
	Lost      []xregion.LostUpdate
	LostCount int
	// Watermarks is how many watermarks moved past a changelog gap.
	Watermarks int
	// Reasserted is how many keys Table.Reassert was asked to write again;
	// Unresolved how many still differed with nothing to settle them.
	Reasserted, Unresolved int
}

func (a *Applied) add(o Applied) {
	a.ToA += o.ToA
	a.ToB += o.ToB
	a.Bytes += o.Bytes
	a.LostCount += o.LostCount
	for _, l := range o.Lost {
		if len(a.Lost) < MaxListed {
			a.Lost = append(a.Lost, l)
		}
	}
	a.Watermarks += o.Watermarks
	a.Reasserted += o.Reasserted
	a.Unresolved += o.Unresolved
}

func (a *Applied) result(r xregion.Result) {
	a.add(Applied{LostCount: len(r.Lost), Lost: r.Lost})
}

// Apply carries the plan out: for each key that differed it reads both
// regions' records again and sends each region what it must receive, in
// batches through Store.Apply, so changelogs, ledgers and staged writes
// stay right; then it moves each region's watermark past the changelog gap
// it lacked, so replication resumes after it without shipping the gap
// again.
//
// Apply decides again on the records it reads, not on the plan's: writes
// that arrived since the plan are resolved too. So it is safe to run again
// after a crash or a cut link (or to run a new Plan): keys already equal
// are skipped, a watermark already moved is left, and nothing is sent
// twice. The stores are the checkpoint: each batch commits its records,
// ledger entries and changelog entries in one transaction.
func (p *Plan) Apply(ctx context.Context) (Applied, error) { return p.apply(ctx, false) }

// apply is Apply; fresh says the plan was made moments ago (Run), so that
// the records it read are sent as they are, without reading them again. A
// write that arrived since is no less safe: each store resolves what it
// receives against what it holds by then, as it does a write replication
// carries, and verification names whatever still differs.
func (p *Plan) apply(ctx context.Context, fresh bool) (Applied, error) {
	var done Applied
	pr := newProgress(p.cfg, "apply")
	moved := make([]bool, len(p.Gaps)) // watermarks moved with the last batch
	for i, tp := range p.Tables {
		t := p.tables[i]
		pr.start(tp.Table, int64(len(tp.keys)))
		read := tp.read
		if !fresh {
			read = nil
		}
		// The last batch of all moves the watermarks in the transactions
		// that write it, unless keys may be reasserted after it.
		batches := slices.Collect(slices.Chunk(tp.keys, p.cfg.batch))
		var unresolved []string
		for j, batch := range batches {
			last := i == len(p.Tables)-1 && j == len(batches)-1 && t.Reassert == nil
			got, apart, err := p.reconcile(ctx, t, batch, read, last, moved)
			done.add(got)
			if err != nil {
				return done, fmt.Errorf("resync apply: table %s: %w", tp.Table, err)
			}
			unresolved = append(unresolved, apart...)
			pr.advance(int64(len(batch)), int64(got.ToA+got.ToB))
		}
		if len(unresolved) > 0 && t.Reassert != nil {
			if err := t.Reassert(ctx, unresolved); err != nil {
				return done, fmt.Errorf("resync apply: table %s: reassert %d keys: %w", tp.Table, len(unresolved), err)
			}
			done.Reasserted += len(unresolved)
			var still []string
			for batch := range slices.Chunk(unresolved, p.cfg.batch) {
				got, apart, err := p.reconcile(ctx, t, batch, nil, false, moved)
				done.add(got)
				if err != nil {
					return done, fmt.Errorf("resync apply: table %s: %w", tp.Table, err)
				}
				still = append(still, apart...)
			}
			unresolved = still
		}
		done.Unresolved += len(unresolved)
	}
	for i, g := range p.Gaps {
		if moved[i] {
			done.Watermarks++
			continue
		}
		ok, err := p.moveWatermark(ctx, g)
		if err != nil {
			return done, fmt.Errorf("resync apply: %w", err)
		}
		if ok {
			done.Watermarks++
		}
	}
	return done, nil
}

// reconcile settles one batch of keys of table t, from the records in read
// or, where it is nil, from both regions' records read now, and returns the
// keys that differ with nothing to send either way. With last, each
// region's final batch also moves its watermark past the gap it lacked
// (and marks it in moved), unless replication moved it since the plan.
func (p *Plan) reconcile(ctx context.Context, t Table, keys []string, read map[string][2]*xregion.Record,
	last bool, moved []bool) (Applied, []string, error) {
	var done Applied
	var apart []string
	var recs [2]map[string]*xregion.Record
	if read == nil {
		var err error
		if recs, err = readBoth(ctx, p.sides, t.Name, keys); err != nil {
			return done, nil, err
		}
	} else {
		recs = [2]map[string]*xregion.Record{{}, {}}
		for _, key := range keys {
			recs[0][key], recs[1][key] = read[key][0], read[key][1]
		}
	}
	var toA, toB []xregion.Write
	for _, key := range keys {
		ra, rb := recs[0][key], recs[1][key]
		if ra != nil && rb != nil && ra.Equal(*rb) {
			continue
		}
		m, err := decide(t, p.A, p.B, ra, rb)
		if err != nil {
			return done, nil, err
		}
		if m.apart {
			apart = append(apart, key)
		}
		if m.toA != nil {
			toA = append(toA, xregion.Write{Table: t.Name, Record: *m.toA})
		}
		if m.toB != nil {
			toB = append(toB, xregion.Write{Table: t.Name, Record: *m.toB})
		}
	}
	// Each region receives the other's records as peer batches: not from a
	// changelog (no positions), so they are idempotent by version.
	sends := [2][]xregion.Write{toA, toB}
	res, err := both(p.sides, func(s side) (xregion.Result, error) {
		i, from := 0, p.B
		if s.region() == p.B {
			i, from = 1, p.A
		}
		batches := cutBytes(sends[i], MaxBatchBytes)
		gap := -1
		if last {
			gap = slices.IndexFunc(p.Gaps, func(g Gap) bool { return g.To == s.region() && g.After.Less(g.Through) })
		}
		if gap >= 0 && len(batches) == 0 {
			batches = [][]xregion.Write{nil}
		}
		var total xregion.Result
		for j, ws := range batches {
			b := xregion.Batch{From: from, Writes: ws}
			if gap >= 0 && j == len(batches)-1 {
				b.After, b.Through = p.Gaps[gap].After, p.Gaps[gap].Through
				r, err := s.store.Apply(ctx, b)
				var wmErr *xregion.WatermarkError
				switch {
				case err == nil && !r.Duplicate:
					moved[gap] = true
					total.Add(r)
					continue
				case err != nil && !errors.As(err, &wmErr):
					return total, err
				}
				// Replication moved the watermark since the plan, and the
				// store applied nothing: the writes go alone, the
				// watermark after them (moveWatermark).
				b.After, b.Through = xregion.Position{}, xregion.Position{}
				if len(ws) == 0 {
					continue
				}
			}
			r, err := s.store.Apply(ctx, b)
			total.Add(r)
			if err != nil {
				return total, err
			}
		}
		return total, nil
	})
	for i, r := range res {
		done.result(r)
		for _, w := range sends[i] {
			done.Bytes += int64(len(w.Record.Key) + len(w.Record.Value))
		}
	}
	done.ToA, done.ToB = res[0].Applied, res[1].Applied
	return done, apart, err
}

// cutBytes cuts writes into batches of at most max key and value bytes
// each (a larger record alone in its batch).
func cutBytes(writes []xregion.Write, max int) [][]xregion.Write {
	var out [][]xregion.Write
	start, size := 0, 0
	for i, w := range writes {
		n := len(w.Record.Key) + len(w.Record.Value)
		if i > start && size+n > max {
			out = append(out, writes[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(writes) {
		out = append(out, writes[start:])
	}
	return out
}

// moveWatermark moves g.To's watermark for g.From to g.Through, unless it
// is there already (a replicator shipped the gap meanwhile, or an earlier
// run moved it). Every key the gap touched was reconciled, so the region
// holds each of those changes or what supersedes it.
func (p *Plan) moveWatermark(ctx context.Context, g Gap) (bool, error) {
	to := p.sides[0]
	if to.region() != g.To {
		to = p.sides[1]
	}
	for {
		wm, err := to.store.Watermark(ctx, g.From)
		if err != nil {
			return false, err
		}
		if !wm.Less(g.Through) {
			return false, nil
		}
		_, err = to.store.Apply(ctx, xregion.Batch{From: g.From, After: wm, Through: g.Through})
		var wmErr *xregion.WatermarkError
		switch {
		case errors.As(err, &wmErr):
			continue // another shipper moved it: look again
		case err != nil:
			return false, fmt.Errorf("move %s's watermark for %s to %s: %w", g.To, g.From, g.Through, err)
		}
		return true, nil
	}
}
