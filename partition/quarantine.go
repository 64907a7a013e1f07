package partition

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/xregion/xregion"
)

// ledgerPage is how many ledger entries Quarantine reads per call of
// Store.LostUpdates.
const ledgerPage = 1000

// Quarantine returns the fenced writes in this region's lost-update ledger
// (Reason xregion.LostFenced) with ID above after, oldest first, at most
// limit (1 to xregion.MaxChangeLimit) of them, and the ID to pass as after
// to read on. Fenced writes are the quarantine: writes a stale home made
// under an epoch that had moved on. They are never applied, and never
// dropped: they stay here until someone decides, at failback, what to do
// with each (typically: write it again in the current home, or let it go).
//
// Each region quarantines what it fences, so after a split brain the same
// write may be listed by several regions; merge ledgers by table, key and
// lost version.
func (r *Router) Quarantine(ctx context.Context, after int64, limit int) ([]xregion.LostUpdate, int64, error) {
	if limit < 1 || limit > xregion.MaxChangeLimit {
		return nil, after, invalid("quarantine query", "limit %d; want 1 to %d", limit, xregion.MaxChangeLimit)
	}
	var out []xregion.LostUpdate
	for {
		page, err := r.store.LostUpdates(ctx, after, ledgerPage)
		if err != nil {
			return out, after, fmt.Errorf("read quarantine: %w", err)
		}
		for _, l := range page {
			after = l.ID
			if l.Reason == xregion.LostFenced {
				out = append(out, l)
				if len(out) == limit {
					return out, after, nil
				}
			}
		}
		if len(page) < ledgerPage {
			return out, after, nil
		}
	}
}

// reassertBatch is the most records Reassert writes in one Store.Apply.
const reassertBatch = 1000

// Reassert writes again, in this region, which must be the home, the record
// each key of table holds here, as a new write under the partition's
// current epoch (a tombstone for a key that holds nothing), and returns how
// many it wrote. It is the last step of failback after a split brain.
//
// Fencing decides, in each region, against the ownership map that region
// knew when a write arrived. A region that accepted a stale home's write
// before it learned of the failover (it was on the stale home's side of the
// partition, or the stale home was itself) keeps that write, and the home
// cannot take it back by fencing. A reasserted record is current, so it
// displaces every stale record it meets, in every region, and the
// displaced write goes to that region's quarantine. Reassert the keys that
// any region quarantined (Quarantine, in every region) once every region
// has received the stale home's changelog; then every region holds what the
// home holds.
//
// Errors: *NotHomeError for a key whose partition is homed elsewhere,
// *StaleEpochError when this region's map is behind (nothing is written in
// either case), a store error.
func (r *Router) Reassert(ctx context.Context, table string, keys ...string) (int, error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	recs := make([]xregion.Record, 0, len(keys))
	for _, key := range keys {
		rec, err := r.Stamp(xregion.Record{Key: key})
		if err != nil {
			return 0, fmt.Errorf("reassert: %w", err)
		}
		held, err := r.store.Get(ctx, table, key)
		switch {
		case errors.Is(err, xregion.ErrNotFound):
			rec.Tombstone = true
		case err != nil:
			return 0, fmt.Errorf("reassert: %w", err)
		default:
			rec.Value, rec.Tombstone, rec.Base = held.Value, held.Tombstone, held.Version
		}
		recs = append(recs, rec)
	}
	written := 0
	for chunk := range slices.Chunk(recs, reassertBatch) {
		b := xregion.Batch{Writes: make([]xregion.Write, len(chunk))}
		for i, rec := range chunk {
			v, err := r.clock.Stamp(r.region, rec.Base)
			if err != nil {
				return written, fmt.Errorf("reassert %s %s: %w", table, quote(rec.Key), err)
			}
			rec.Version = v
			b.Writes[i] = xregion.Write{Table: table, Record: rec}
		}
		res, err := r.store.Apply(ctx, b)
		if err != nil {
			return written, fmt.Errorf("reassert: %w", err)
		}
		written += res.Applied
	}
	return written, nil
}
