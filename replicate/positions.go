package replicate

import (
	"context"
	"fmt"

	"github.com/xregion/xregion"
)

// AdvancePositions is the way forward after shipping stopped with
// xregion.ErrPositionsReset: it reads the watermark every peer holds for
// local's region and moves local's changelog past the highest of them
// (xregion.PositionAdvancer), so that what local records from now on ships
// again. It returns the first position local issues from now on.
//
// Pass every region that receives local's changes: a peer left out keeps
// refusing, loudly, until it is included. Changes local recorded before the
// call keep their places, behind the peers' watermarks, and never ship;
// what the restore lost never existed here. Resync the regions afterwards
// (resync.Run, with resync.WithDigestsOnly) to reconcile both. Errors:
// ErrInvalid when local is not a PositionAdvancer, and the stores'.
func AdvancePositions(ctx context.Context, local xregion.Store, peers ...xregion.Store) (xregion.Position, error) {
	adv, ok := local.(xregion.PositionAdvancer)
	if !ok {
		return xregion.Position{}, &xregion.InvalidError{What: "local store",
			Reason: fmt.Sprintf("%T cannot advance its changelog positions (it is not an xregion.PositionAdvancer)", local)}
	}
	var past xregion.Position
	for _, p := range peers {
		wm, err := p.Watermark(ctx, local.Region())
		if err != nil {
			return xregion.Position{}, fmt.Errorf("advance positions of %s: read watermark of %s: %w", local.Region(), p.Region(), err)
		}
		if past.Less(wm) {
			past = wm
		}
	}
	first, err := adv.AdvancePositions(ctx, past)
	if err != nil {
		return xregion.Position{}, fmt.Errorf("advance positions of %s: %w", local.Region(), err)
	}
	return first, nil
}
