package replicate

import (
	"context"
	"errors"
	"fmt"

	"github.com/xregion/xregion"
)

// Ship copies, once, the changes made in from's region (its own writes, not
// those it received) that to has not applied, and returns how many it
// shipped: the asynchronous replicator's step, run by the caller, for
// tests, drills and tools that bring a region up to date at a moment they
// choose. Each batch (DefaultBatchSize changes, DefaultMaxBatchBytes at
// most) moves to's watermark in the same transaction, so shipping twice, or
// alongside a running replicator, applies nothing twice. Changes that a
// transaction still open hides from Store.Changes are left for a later
// call; Store.Backlog tells whether any remain.
func Ship(ctx context.Context, from, to xregion.Store) (int, error) {
	origin := from.Region()
	after, err := to.Watermark(ctx, origin)
	if err != nil {
		return 0, fmt.Errorf("ship %s to %s: %w", origin, to.Region(), err)
	}
	shipped := 0
	for {
		changes, err := from.Changes(ctx, xregion.ChangeQuery{After: after, Origin: origin, Limit: DefaultBatchSize})
		if errors.Is(err, xregion.ErrTruncated) {
			err = needsResync(to.Region(), err)
		}
		if err != nil {
			return shipped, fmt.Errorf("ship %s to %s: %w", origin, to.Region(), err)
		}
		if len(changes) == 0 {
			return shipped, nil
		}
		changes = changes[:batchEnd(changes, DefaultMaxBatchBytes)]
		b := xregion.Batch{From: origin, After: after, Through: changes[len(changes)-1].Pos, Writes: writesOf(changes, false)}
		_, err = to.Apply(ctx, b)
		var wmErr *xregion.WatermarkError
		switch {
		case errors.As(err, &wmErr):
			after = wmErr.Have // another shipper moved it: go on from there
			continue
		case err != nil:
			return shipped, fmt.Errorf("ship %s to %s: %w", origin, to.Region(), err)
		}
		after, shipped = b.Through, shipped+len(changes)
	}
}
