package kv

import (
	"context"
	"errors"
	"fmt"

	"github.com/xregion/xregion"
)

// MaxSweepLimit is the most entries one Sweep call removes.
const MaxSweepLimit = 10_000

// Sweep removes, by writing tombstones, up to limit entries of the table
// that expired more than the sweep grace ago (WithSweepGrace) by the
// region's HLC, and returns how many it removed; fewer than limit means
// none is left for now. The tombstones replicate like any write, and the
// store's retention collects them once every peer has applied them, as it
// collects every tombstone: that is how expired entries leave storage.
// Expired entries are invisible to Get, Contains and List before they are
// swept; Sweep only reclaims their space. Call it on a schedule, in one
// region or in several (two regions removing the same entry leave no
// ledger entry; see Resolver).
//
// Each removal is conditional on the expired entry being what the key
// still holds in this region, so a write made here since is never
// removed. A write made to the key in another region after it expired
// but not yet arrived here is concurrent with the sweep's tombstone, and
// the later of the two wins; the grace is there so that such a write has
// arrived first (it should exceed the table's RPO), and if it has not,
// the write that loses is in the lost-update ledger, not gone silently.
// On a single-writer table (WithFence) Sweep leaves the keys homed
// elsewhere to their home region.
//
// Cost: like List, Sweep enumerates every key of the table; it reads the
// values only of keys last written more than the grace ago (an entry
// cannot have expired before it was written). Records it cannot decode are
// left alone; Get reports them.
//
// Errors: an *xregion.InvalidError for a limit outside 1 to MaxSweepLimit;
// an error wrapping errors.ErrUnsupported when the store is not an
// xregion.Digester; the store's and the Writer's errors (the entries
// removed before it are counted).
func (t *Table) Sweep(ctx context.Context, limit int) (int, error) {
	if limit < 1 || limit > MaxSweepLimit {
		return 0, fmt.Errorf("kv: sweep %s: %w", t.name, invalid("sweep limit", "%d; want 1 to %d", limit, MaxSweepLimit))
	}
	d, err := t.digester()
	if err != nil {
		return 0, fmt.Errorf("kv: sweep %s: %w", t.name, err)
	}
	now := t.clock.Now()
	cutoff := now.WallTime - int64(t.cfg.sweepGrace) // entries that expired at or before it go
	removed := 0
	err = t.scan(ctx, d, xregion.AllKeys, func(kds []xregion.KeyDigest) error {
		var old []string
		for _, kd := range kds {
			if kd.Version.Time.WallTime < cutoff {
				old = append(old, kd.Key)
			}
		}
		for len(old) > 0 {
			page := old[:min(len(old), readBatch)]
			old = old[len(page):]
			recs, err := d.Records(ctx, t.name, page)
			if err != nil {
				return err
			}
			var doomed []xregion.Record
			for _, rec := range recs {
				if removed+len(doomed) == limit {
					break
				}
				s := stateOf(rec, now)
				if s.err == nil && !s.entry.Expires.IsZero() && s.entry.Expires.UnixNano() <= cutoff && !rec.Tombstone {
					doomed = append(doomed, rec)
				}
			}
			n, err := t.sweep(ctx, doomed)
			removed += n
			if err != nil {
				return err
			}
			if removed == limit {
				return errStop
			}
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("kv: sweep %s: %w", t.name, err)
	}
	return removed, nil
}

// sweep writes a tombstone over each expired record, conditional on it
// being what the key holds, and returns how many it wrote: all in one
// write, or one by one when one of them meets a newer write.
func (t *Table) sweep(ctx context.Context, expired []xregion.Record) (int, error) {
	var tombs []xregion.Record
	for _, rec := range expired {
		tomb, err := t.record(rec.Key, rec.Version, change{remove: true})
		var fe *fenceError
		if errors.As(err, &fe) {
			continue // homed elsewhere: its home sweeps it
		}
		if err != nil {
			return 0, err
		}
		tombs = append(tombs, tomb)
	}
	if len(tombs) == 0 {
		return 0, nil
	}
	switch err := t.commit(ctx, tombs...); {
	case err == nil:
		return len(tombs), nil
	case !retriable(err):
		return 0, err
	case len(tombs) == 1:
		return 0, nil
	}
	n := 0
	for _, tomb := range tombs {
		switch err := t.commit(ctx, tomb); {
		case err == nil:
			n++
		case !retriable(err):
			return n, err
		}
	}
	return n, nil
}
