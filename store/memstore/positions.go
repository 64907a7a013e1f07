package memstore

import (
	"context"

	"github.com/xregion/xregion"
)

var _ xregion.PositionAdvancer = (*Store)(nil)

// checkAfterLocked refuses a position the changelog has not issued yet.
// A memstore's positions start again with its process: a peer that kept
// its watermark for the region across a restart holds one from before.
func (s *Store) checkAfterLocked(after xregion.Position) error {
	if after.Tx <= s.mu.tx {
		return nil
	}
	return &xregion.PositionsError{Region: s.region, Beyond: after, Next: xregion.Position{Tx: s.mu.tx + 1},
		Reason: "A memstore's changelog starts again with its process, and the watermark is from an earlier one. " +
			"Way forward: advance the changelog past the highest watermark the peers hold for " + string(s.region) +
			" (replicate.AdvancePositions), then resync the regions"}
}

// AdvancePositions implements xregion.PositionAdvancer: the next Apply
// takes a position after past and after every position issued so far.
func (s *Store) AdvancePositions(ctx context.Context, past xregion.Position) (xregion.Position, error) {
	if err := ctx.Err(); err != nil {
		return xregion.Position{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.tx = max(s.mu.tx, past.Tx)
	return xregion.Position{Tx: s.mu.tx + 1}, nil
}
