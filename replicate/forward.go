package replicate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/xregion/xregion"
)

// Forward copies, once, the writes made in region origin that from holds
// and to lacks: a survivor's step when origin is gone, so that every
// survivor ends up with every write origin shipped to any of them. It
// returns how many changes it forwarded.
//
// Two passes. By place: from's copies of origin's changes past to's
// watermark for origin, sent as origin's own shipper would have sent them,
// with origin's positions (xregion.Change.OriginPos), so to's watermark
// moves exactly as if origin had shipped them and nothing is applied
// twice, even if origin comes back and ships alongside. By version: the
// writes of origin that from holds with no place in origin's changelog
// (staged synchronous writes it resolved, resynced ones), which to applies
// idempotently, as a synchronous peer would.
//
// No echo: Forward refuses to send a region its own writes, and what it
// forwards keeps origin as its origin, so neither to's shipper (which
// ships only to's writes) nor another Forward to from sends it back.
//
// What from's resolver did not keep (a write of origin that lost to a
// concurrent one there) is not in from's changelog and is not forwarded:
// to gets the winner, and the loser is in from's ledger, not to's.
//
// Nor is what retention removed from from's changelog (older than
// Retention.PeerChangesFor): by place, Forward fails with an
// *xregion.TruncatedError when to lacks some of it, and to needs a resync;
// by version it cannot tell, and forwards what is left.
func Forward(ctx context.Context, from, to xregion.Store, origin xregion.Region) (int, error) {
	if err := checkForward(from, to, origin); err != nil {
		return 0, err
	}
	placed, err := forwardPlaced(ctx, from, to, origin)
	if err != nil {
		return placed, fmt.Errorf("forward %s's writes from %s to %s: %w", origin, from.Region(), to.Region(), err)
	}
	versioned, err := forwardVersioned(ctx, from, to, origin)
	if err != nil {
		return placed + versioned, fmt.Errorf("forward %s's writes from %s to %s: %w", origin, from.Region(), to.Region(), err)
	}
	return placed + versioned, nil
}

func checkForward(from, to xregion.Store, origin xregion.Region) error {
	switch {
	case from == nil || to == nil:
		return &xregion.InvalidError{What: "forward", Reason: "nil store"}
	case origin.Validate() != nil:
		return fmt.Errorf("forward: %w", origin.Validate())
	case origin == from.Region() || origin == to.Region():
		return &xregion.InvalidError{What: "forward", Reason: fmt.Sprintf("origin %s is one of the two regions; a region ships its own writes, and never receives them", origin)}
	case from.Region() == to.Region():
		return &xregion.InvalidError{What: "forward", Reason: fmt.Sprintf("from and to are both %s", from.Region())}
	}
	return nil
}

// forwardPlaced sends from's copies of origin's changes past to's
// watermark for origin, in origin's order, moving that watermark.
func forwardPlaced(ctx context.Context, from, to xregion.Store, origin xregion.Region) (int, error) {
	wm, err := to.Watermark(ctx, origin)
	if err != nil {
		return 0, err
	}
	var (
		sent   int
		cursor xregion.Position // in from's changelog
	)
	for {
		changes, err := from.Changes(ctx, xregion.ChangeQuery{After: cursor, Origin: origin, OriginAfter: wm, Limit: DefaultBatchSize})
		if err != nil {
			return sent, err
		}
		if len(changes) == 0 {
			return sent, nil
		}
		cursor = changes[len(changes)-1].Pos
		// With a zero watermark the query keeps the changes that have no
		// place too; those are the other pass's.
		changes = slices.DeleteFunc(changes, func(c xregion.Change) bool { return !wm.Less(c.OriginPos) })
		for len(changes) > 0 {
			n := batchEnd(changes, DefaultMaxBatchBytes)
			b := xregion.Batch{From: origin, After: wm, Through: changes[n-1].OriginPos, Writes: writesOf(changes[:n], false)}
			_, err := to.Apply(ctx, b)
			var wmErr *xregion.WatermarkError
			switch {
			case errors.As(err, &wmErr):
				// Another shipper moved it (origin back, or another
				// survivor forwarding): go on from there.
				wm, cursor, changes = wmErr.Have, xregion.Position{}, nil
				continue
			case err != nil:
				return sent, err
			}
			wm, sent, changes = b.Through, sent+n, changes[n:]
		}
	}
}

// forwardVersioned sends from's writes of origin that have no place in
// origin's changelog; to applies them by version, so sending one it holds
// changes nothing.
func forwardVersioned(ctx context.Context, from, to xregion.Store, origin xregion.Region) (int, error) {
	var (
		sent   int
		cursor xregion.Position
	)
	for {
		changes, err := changesHeld(ctx, from, xregion.ChangeQuery{After: cursor, Origin: origin, Limit: DefaultBatchSize})
		if err != nil {
			return sent, err
		}
		if len(changes) == 0 {
			return sent, nil
		}
		cursor = changes[len(changes)-1].Pos
		changes = slices.DeleteFunc(changes, func(c xregion.Change) bool { return !c.OriginPos.IsZero() })
		for len(changes) > 0 {
			n := batchEnd(changes, DefaultMaxBatchBytes)
			res, err := to.Apply(ctx, xregion.Batch{From: origin, Writes: writesOf(changes[:n], false)})
			if err != nil {
				return sent, err
			}
			sent, changes = sent+res.Applied, changes[n:]
		}
	}
}

// changesHeld is Store.Changes for a reader of what a store holds still:
// where retention removed entries the query would have returned, it reads
// on from the last of them instead of failing.
func changesHeld(ctx context.Context, st xregion.Store, q xregion.ChangeQuery) ([]xregion.Change, error) {
	for {
		cs, err := st.Changes(ctx, q)
		var te *xregion.TruncatedError
		if errors.As(err, &te) && q.After.Less(te.Through) {
			q.After = te.Through
			continue
		}
		return cs, err
	}
}

// ForwardLag is how far to lags behind from in origin's writes: the
// changes of origin that from holds past to's watermark for origin, and
// the RPO they make, the age of the oldest of them (by when from appended
// it, on now's clock). While origin is gone, a survivor that lacks some of
// its writes shows it here until a catch-up ends; the writes of origin
// from holds with no place in origin's changelog are not counted (see
// Forward).
func ForwardLag(ctx context.Context, from, to xregion.Store, origin xregion.Region, now time.Time) (xregion.PeerLag, error) {
	if err := checkForward(from, to, origin); err != nil {
		return xregion.PeerLag{}, err
	}
	wm, err := to.Watermark(ctx, origin)
	if err != nil {
		return xregion.PeerLag{}, fmt.Errorf("forward lag of %s behind %s: %w", to.Region(), from.Region(), err)
	}
	l := xregion.PeerLag{Peer: to.Region(), Applied: wm}
	var cursor xregion.Position
	for {
		changes, err := from.Changes(ctx, xregion.ChangeQuery{After: cursor, Origin: origin, OriginAfter: wm, Limit: xregion.MaxChangeLimit})
		if err != nil {
			return xregion.PeerLag{}, fmt.Errorf("forward lag of %s behind %s: %w", to.Region(), from.Region(), err)
		}
		if len(changes) == 0 {
			return l, nil
		}
		cursor = changes[len(changes)-1].Pos
		for _, c := range changes {
			if !wm.Less(c.OriginPos) {
				continue
			}
			if l.Pending == 0 {
				l.RPO = max(now.Sub(c.Time), time.Nanosecond)
			}
			l.Pending++
			l.PendingBytes += int64(writeBytes(xregion.Write{Record: c.Record}))
		}
	}
}
