package replicate

import (
	"context"
	"sync"
	"time"

	"github.com/xregion/xregion"
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
	s.cfg.onAlert(Alert{Kind: AlertDegraded, Peer: p.store.Region(), RPO: time.Since(since), Err: err, At: time.Now()})
	s.stateChanged()
}

// recover watches the peers that lack writes: once one answers, it is sent
// writes again, and once the changelog stream has applied everything
// committed up to then, it lacks nothing.
func (s *Sync) recover(ctx context.Context) {
	t := time.NewTicker(min(s.cfg.heartbeat, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
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
	s.cfg.onAlert(Alert{Kind: AlertResynced, Peer: p.store.Region(), RPO: time.Since(since), At: time.Now()})
}

// Lag reports each peer's lag. For a synchronous peer the RPO is the age of
// the oldest write committed here that the peer may lack: zero while every
// write is staged there, growing from the first write that was not.
func (s *Sync) Lag(ctx context.Context) ([]PeerLag, error) {
	lags, err := s.async.Lag(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for i, p := range s.peers {
		p.mu.Lock()
		l := &lags[i]
		switch {
		case p.mu.degraded:
			l.State = "degraded"
		case !p.mu.since.IsZero():
			l.State = "recovering"
		default:
			l.State = "sync"
		}
		l.RPO = 0
		if !p.mu.since.IsZero() {
			l.RPO = now.Sub(p.mu.since)
		}
		if p.mu.lastErr != nil {
			l.Err = p.mu.lastErr
		}
		p.mu.Unlock()
	}
	return lags, nil
}
