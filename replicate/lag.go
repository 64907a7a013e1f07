package replicate

import (
	"context"
	"fmt"
	"time"

	"github.com/xregion/xregion"
)

// PeerLag is one peer's replication lag: what the region would lose if it
// died now, and whether the peer can be heard.
type PeerLag struct {
	Peer xregion.Region
	// RPO is the live recovery point: the age of the oldest change committed
	// here that the peer does not durably hold; zero when it holds them all.
	RPO time.Duration
	// Pending and PendingBytes count the changes the peer has not applied
	// (a synchronous peer may hold some of them staged, durably).
	Pending, PendingBytes int64
	// LastContact is when the peer last answered; zero if it never has. An
	// idle link is checked every Heartbeat, so a dead one shows here even
	// when nothing is pending.
	LastContact time.Time
	// Applied is the position in the local changelog the peer has applied
	// through, as last seen.
	Applied xregion.Position
	// State is "shipping", "standby" (another process holds the lease and
	// ships), "failing", or for synchronous peers "sync", "degraded",
	// "recovering".
	State string
	// Err is the last error talking to the peer, nil once it answers again.
	Err error
	// Shipped and Conflicts count the records this process applied on the
	// peer and the lost updates that recorded there.
	Shipped, Conflicts int64
}

// SinceContact is how long ago the peer last answered, measured at now.
func (l PeerLag) SinceContact(now time.Time) time.Duration {
	if l.LastContact.IsZero() {
		return 0
	}
	return now.Sub(l.LastContact)
}

// lag measures the peer's lag from the local changelog: everything after
// the peer's watermark is missing there.
func (s *shipper) lag(ctx context.Context) (PeerLag, error) {
	s.mu.Lock()
	l := PeerLag{Peer: s.peer.Region(), LastContact: s.mu.lastContact, Applied: s.mu.wm, Err: s.mu.lastErr,
		Shipped: s.mu.applied, Conflicts: s.mu.conflicts}
	active, known := s.mu.active, s.mu.known
	s.mu.Unlock()
	switch {
	case active && l.Err == nil:
		l.State = "shipping"
	case l.Err != nil:
		l.State = "failing"
	default:
		l.State = "standby"
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
	if err != nil {
		return PeerLag{}, fmt.Errorf("lag of %s: %w", l.Peer, err)
	}
	l.RPO, l.Pending, l.PendingBytes = b.Age(), b.Changes, b.Bytes
	return l, nil
}
