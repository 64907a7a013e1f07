package replicate

import (
	"fmt"

	"github.com/xregion/xregion"
)

// Snapshot replicates a region periodically (Tier 3): every interval (Every)
// each peer receives what changed since the last time, coalesced to the
// latest version of each key. The RPO is bounded by the interval plus the
// time a snapshot takes to ship.
type Snapshot struct {
	*Async
}

// NewSnapshot starts a snapshot replicator; Close stops it. Options: Every,
// WithTier (refused if the interval exceeds the tier's RPO), and the options of
// NewAsync.
func NewSnapshot(local xregion.Store, clock *xregion.Clock, peers []xregion.Store, opts ...Option) (*Snapshot, error) {
	cfg := newConfig(opts)
	if err := validate(local, clock, peers, cfg); err != nil {
		return nil, fmt.Errorf("new snapshot replicator: %w", err)
	}
	if cfg.every <= 0 {
		return nil, fmt.Errorf("new snapshot replicator: %w", &xregion.InvalidError{What: "interval", Reason: fmt.Sprintf("%s; want a positive duration such as %s", cfg.every, DefaultSnapshotEvery)})
	}
	if cfg.tier != nil {
		if err := checkTier(*cfg.tier, StrategySnapshot, cfg.every); err != nil {
			return nil, err
		}
	}
	return &Snapshot{newAsync(local, clock, peers, cfg, true)}, nil
}
