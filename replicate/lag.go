package replicate

import (
	"context"
	"errors"
	"fmt"

	"github.com/xregion/xregion"
)

// lag measures the peer's lag from the local changelog: everything after
// the peer's watermark is missing there.
func (s *shipper) lag(ctx context.Context) (xregion.PeerLag, error) {
	s.mu.Lock()
	l := xregion.PeerLag{Peer: s.peer.Region(), LastContact: s.mu.lastContact, Applied: s.mu.wm, Err: s.mu.lastErr,
		Shipped: s.mu.applied, Conflicts: s.mu.conflicts}
	active, known := s.mu.active, s.mu.known
	s.mu.Unlock()
	switch {
	case active && l.Err == nil:
		l.State = xregion.LinkShipping
	case l.Err != nil:
		l.State = xregion.LinkFailing
	default:
		l.State = xregion.LinkStandby
		// Another process ships: ask the peer where it stands, if it
		// answers within a heartbeat; a dark peer must not keep the lag
		// from being measured.
		pctx, cancel := context.WithTimeout(ctx, s.cfg.heartbeat)
		if wm, err := s.peer.Watermark(pctx, s.local.Region()); err == nil {
			l.Applied, known = wm, true
		}
		cancel()
	}
	if !known {
		l.Applied = xregion.Position{} // never heard from: assume it has nothing
	}
	b, err := s.local.Backlog(ctx, l.Applied, s.local.Region())
	if errors.Is(err, xregion.ErrPositionsReset) {
		// The peer's watermark is past what the changelog issues now, so
		// which changes the peer lacks is unknown: count them all, which
		// may overstate and never understates, and say why.
		l.Err, l.State = err, xregion.LinkFailing
		b, err = s.local.Backlog(ctx, xregion.Position{}, s.local.Region())
	}
	if err != nil {
		return xregion.PeerLag{}, fmt.Errorf("lag of %s: %w", l.Peer, err)
	}
	l.RPO, l.Pending, l.PendingBytes = b.Age(), b.Changes, b.Bytes
	// A peer that lacks changes retention removed lacks at least the last
	// of them, which Backlog no longer counts.
	if te := (*xregion.TruncatedError)(nil); errors.As(l.Err, &te) {
		l.RPO = max(l.RPO, b.Now.Sub(te.Time))
	}
	return l, nil
}
