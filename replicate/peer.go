package replicate

import (
	"context"
	"sync"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// syncPeer is a synchronous peer and what it lacks. Every write committed
// here and not staged there (refused under Strict, skipped while degraded)
// makes it lack something since the write's start; it lacks nothing again
// once the changelog stream has applied everything committed up to the
// moment it answered again.
type syncPeer struct {
	index   int
	store   xregion.Store
	stager  xregion.Stager // store's
	shipper *shipper
	c       *committer
	mu      struct {
		sync.Mutex
		degraded  bool              // Degrade policy: writes go on without it
		since     time.Time         // the oldest write it lacks; zero if none
		catchUpTo *xregion.Position // the local head when it answered again
		lastErr   error
	}
}

// sends reports whether writes are sent to the peer.
func (p *syncPeer) sends() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.mu.degraded
}

// unstaged records that a write started at t may be missing on the peer.
func (p *syncPeer) unstaged(t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.since.IsZero() || t.Before(p.mu.since) {
		p.mu.since = t
	}
	p.mu.catchUpTo = nil // measure the catch-up again, past this write
}

func (p *syncPeer) answered() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.lastErr = nil
}

func (p *syncPeer) failed(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.lastErr = err
}

// degrade stops waiting for p and alerts.
func (s *Sync) degrade(p *syncPeer, err error, batch []*call) {
	p.mu.Lock()
	was := p.mu.degraded
	p.mu.degraded = true
	for _, cl := range batch {
		if p.mu.since.IsZero() || cl.start.Before(p.mu.since) {
			p.mu.since = cl.start
		}
	}
	p.mu.catchUpTo = nil
	since := p.mu.since
	p.mu.Unlock()
	if was {
		return
	}
	s.cfg.logger.Warn("replicate: peer degraded to asynchronous", "peer", p.store.Region(), "err", err)
	now := s.cfg.clock.Now()
	s.cfg.onAlert(Alert{Kind: AlertDegraded, Peer: p.store.Region(), RPO: now.Sub(since), Err: err, At: now})
	s.stateChanged()
}

// recover watches the peers that lack writes: once one answers, it is sent
// writes again, and once the changelog stream has applied everything
// committed up to then, it lacks nothing.
func (s *Sync) recover(ctx context.Context) {
	for wait.Sleep(ctx, s.cfg.clock, min(s.cfg.heartbeat, 100*time.Millisecond)) == nil {
		for _, p := range s.peers {
			s.recoverPeer(ctx, p)
		}
	}
}

func (s *Sync) recoverPeer(ctx context.Context, p *syncPeer) {
	p.mu.Lock()
	lacking, degraded, target := !p.mu.since.IsZero(), p.mu.degraded, p.mu.catchUpTo
	p.mu.Unlock()
	if !lacking && !degraded {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.heartbeat)
	defer cancel()
	wm, err := p.store.Watermark(ctx, s.local.Region())
	if err != nil {
		return
	}
	if degraded {
		p.mu.Lock()
		p.mu.degraded = false
		p.mu.Unlock()
		s.cfg.logger.Info("replicate: degraded peer answers again", "peer", p.store.Region())
		s.stateChanged()
	}
	if target == nil {
		b, err := s.local.Backlog(ctx, wm, s.local.Region())
		if err != nil {
			return
		}
		head := b.Head
		if head.Less(wm) {
			head = wm // nothing pending: caught up already
		}
		p.mu.Lock()
		if p.mu.catchUpTo == nil {
			p.mu.catchUpTo = &head
		}
		target = p.mu.catchUpTo
		p.mu.Unlock()
	}
	if wm.Less(*target) {
		return
	}
	p.mu.Lock()
	if p.mu.catchUpTo != target { // a write was missed meanwhile
		p.mu.Unlock()
		return
	}
	since := p.mu.since
	p.mu.since, p.mu.catchUpTo = time.Time{}, nil
	p.mu.Unlock()
	s.cfg.logger.Info("replicate: peer caught up, synchronous again", "peer", p.store.Region())
	now := s.cfg.clock.Now()
	s.cfg.onAlert(Alert{Kind: AlertRecovered, Peer: p.store.Region(), RPO: now.Sub(since), At: now})
}

// Lag reports each peer's lag. For a synchronous peer the RPO is the age of
// the oldest change committed here that the peer neither applied nor holds
// staged, found in the stores themselves, so that it holds after a restart
// and counts the writes of every process of the region; the writes this
// replicator has in flight to the peer are left out until they are
// answered. Where the peer cannot say what it holds (it does not answer
// within a heartbeat), the RPO counts every change it has not applied: it
// may overstate, never understate.
func (s *Sync) Lag(ctx context.Context) ([]xregion.PeerLag, error) {
	lags, err := s.async.Lag(ctx)
	if err != nil {
		return nil, err
	}
	for i, p := range s.peers {
		l := &lags[i]
		if rpo, err := s.syncRPO(ctx, p, l.Applied); err == nil {
			l.RPO = rpo
		} else if ctx.Err() != nil {
			return nil, err
		}
		p.mu.Lock()
		switch {
		case p.mu.degraded:
			l.State = xregion.LinkDegraded
		case !p.mu.since.IsZero():
			l.State = xregion.LinkRecovering
		default:
			l.State = xregion.LinkSync
		}
		if p.mu.lastErr != nil {
			l.Err = p.mu.lastErr
		}
		p.mu.Unlock()
	}
	return lags, nil
}

// rpoChecked is how many changes after a peer's watermark syncRPO asks the
// peer about; older ones count as missing.
const rpoChecked = 1000

// syncRPO is the age of the oldest change committed here after wm that peer
// p neither applied nor holds staged, and that is not in flight to it from
// this replicator. Of the first rpoChecked changes it asks the peer; any
// committed change it could not check (past those, or hidden from Changes
// by an open transaction) counts as missing.
//
// The order of the reads matters. The backlog is read first, to know what
// was committed by then. The writes in flight are read after the changes,
// so a write left out as in flight either was still unanswered then or had
// been answered, its staging done, before the peer is asked what it holds;
// and the peer's watermark is read again after that, so a change the peer
// applied (which leaves the stage) while it was being asked is not taken
// for one it lacks.
func (s *Sync) syncRPO(ctx context.Context, p *syncPeer, wm xregion.Position) (time.Duration, error) {
	from := s.local.Region()
	clock := s.cfg.clock
	asked := clock.Now()
	committed, err := s.local.Backlog(ctx, wm, from)
	if err != nil || committed.Changes == 0 {
		return 0, err
	}
	// now reads the store's clock, which stamped the changes' Time.
	now := func() time.Time { return committed.Now.Add(clock.Now().Sub(asked)) }
	cs, err := s.local.Changes(ctx, xregion.ChangeQuery{After: wm, Origin: from, Limit: rpoChecked})
	if err != nil {
		return 0, err
	}
	var oldest time.Time
	checked := wm
	if len(cs) > 0 {
		flying := s.inFlight(cs)
		pctx, cancel := context.WithTimeout(ctx, s.cfg.heartbeat)
		defer cancel()
		held, err := p.stager.Holding(pctx, from, writesOf(cs, false))
		if err != nil {
			return 0, err
		}
		applied, err := p.store.Watermark(pctx, from)
		if err != nil {
			return 0, err
		}
		for i, c := range cs {
			lacks := !held[i] && !flying[i] && applied.Less(c.Pos)
			if lacks && (oldest.IsZero() || c.Time.Before(oldest)) {
				oldest = c.Time
			}
		}
		checked = cs[len(cs)-1].Pos
	}
	if checked.Less(committed.Head) {
		// Some of what was committed went unchecked: count it all.
		rest, err := s.local.Backlog(ctx, checked, from)
		if err != nil {
			return 0, err
		}
		if !rest.Oldest.IsZero() && (oldest.IsZero() || rest.Oldest.Before(oldest)) {
			oldest = rest.Oldest
		}
	}
	if oldest.IsZero() {
		return 0, nil
	}
	return max(now().Sub(oldest), 0), nil
}
