package replicate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// Async replicates a region asynchronously (Tier 2): a write commits in the
// local store, and one shipper per peer tails the local changelog and applies
// it on the peer in batches, each together with the peer's watermark. It is
// safe for concurrent use.
type Async struct {
	cfg      config
	local    xregion.Store
	clock    *xregion.Clock
	shippers []*shipper
	commit   *committer // the local store's
	rpo      *rpoWatch
	wake     chan struct{}
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// NewAsync starts shipping the writes made in local's region to peers (each
// a Store of another region, reached over the network) and returns the
// replicator; Close stops it. clock stamps the writes made through Write.
// Options: WithTier, WithBatchSize, WithMaxBatchBytes, WithPollInterval, WithHeartbeat,
// WithMaxBackoff, WithLocalInFlight, WithLogger, WithAlerts, WithGuardrail,
// WithMetrics, WithTimers, WithRetention.
func NewAsync(local xregion.Store, clock *xregion.Clock, peers []xregion.Store, opts ...Option) (*Async, error) {
	cfg := newConfig(opts)
	if err := validate(local, clock, peers, cfg); err != nil {
		return nil, fmt.Errorf("new async replicator: %w", err)
	}
	if cfg.tier != nil {
		if err := checkTier(*cfg.tier, StrategyAsync, 0); err != nil {
			return nil, err
		}
	}
	return newAsync(local, clock, peers, cfg, false), nil
}

func newAsync(local xregion.Store, clock *xregion.Clock, peers []xregion.Store, cfg config, snapshot bool) *Async {
	ctx, cancel := context.WithCancel(context.Background())
	a := &Async{cfg: cfg, local: local, clock: clock, wake: make(chan struct{}, 1), cancel: cancel}
	for _, p := range peers {
		s := &shipper{cfg: cfg, local: local, peer: p, wake: make(chan struct{}, 1), snapshot: snapshot, limit: cfg.maxBatchBytes}
		a.shippers = append(a.shippers, s)
		a.wg.Go(func() { s.run(ctx) })
	}
	a.commit = localCommitter(ctx, &a.wg, cfg, local)
	a.wg.Go(func() { a.fanOutWakes(ctx) })
	a.rpo = watchRPO(ctx, &a.wg, cfg, a.Lag)
	if cfg.retention != nil {
		rt := newRetainer(local, peers, cfg, func(i int) (xregion.Position, bool) { return a.shippers[i].watermark() })
		a.wg.Go(func() { rt.loop(ctx) })
	}
	return a
}

func validate(local xregion.Store, clock *xregion.Clock, peers []xregion.Store, cfg config) error {
	switch {
	case local == nil:
		return &xregion.InvalidError{What: "local store", Reason: "nil"}
	case clock == nil:
		return &xregion.InvalidError{What: "clock", Reason: "nil; pass the region's *xregion.Clock"}
	case len(peers) == 0:
		return &xregion.InvalidError{What: "peers", Reason: "none; pass the stores of the regions to replicate to"}
	case cfg.batchSize < 1 || cfg.batchSize > xregion.MaxChangeLimit:
		return &xregion.InvalidError{What: "batch size", Reason: fmt.Sprintf("%d; want 1 to %d", cfg.batchSize, xregion.MaxChangeLimit)}
	case cfg.maxBatchBytes < 1:
		return &xregion.InvalidError{What: "max batch bytes", Reason: fmt.Sprintf("%d; want 1 or more", cfg.maxBatchBytes)}
	case cfg.localInFlight < 1:
		return &xregion.InvalidError{What: "local in flight", Reason: fmt.Sprintf("%d; want 1 or more", cfg.localInFlight)}
	case cfg.pollInterval <= 0 || cfg.heartbeat <= 0 || cfg.maxBackoff <= 0:
		return &xregion.InvalidError{What: "intervals", Reason: "poll interval, heartbeat and max backoff must be positive"}
	case cfg.logger == nil || cfg.onAlert == nil || cfg.clock == nil:
		return &xregion.InvalidError{What: "options", Reason: "nil logger, alert callback or clock"}
	case cfg.guardrail != (Guardrail{}) && cfg.tier == nil:
		return &xregion.InvalidError{What: "guardrail", Reason: "no tier to hold the RPO to; add WithTier"}
	case cfg.retention != nil:
		if err := validateRetention(local, peers, cfg); err != nil {
			return err
		}
	}
	seen := map[xregion.Region]bool{local.Region(): true}
	for _, p := range peers {
		if p == nil {
			return &xregion.InvalidError{What: "peers", Reason: "a nil store"}
		}
		if seen[p.Region()] {
			return &xregion.InvalidError{What: "peers", Reason: fmt.Sprintf("region %s appears twice (or is the local region)", p.Region())}
		}
		seen[p.Region()] = true
	}
	return nil
}

// Write stamps the records whose Version is zero with the clock, in place,
// and commits them in the local store; shippers carry them to the peers.
// Concurrent writes share local transactions (group commit; WithLocalInFlight
// bounds the transactions in flight). Sending the same stamped writes again
// is safe: when the error wraps xregion.ErrOutcomeUnknown, do. A guardrail
// may delay or refuse the write while a peer's RPO is over its tier's
// target.
func (a *Async) Write(ctx context.Context, ws ...xregion.Write) error {
	if err := a.rpo.admit(ctx); err != nil {
		return err
	}
	if err := stamp(a.clock, a.local.Region(), ws); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := (xregion.Batch{Writes: ws}).Validate(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	c := &call{ctx: ctx, writes: ws, start: a.cfg.clock.Now(), done: make(chan result, 1)}
	if err := a.commit.enqueue(c); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	select {
	case r := <-c.done:
		if r.err != nil {
			return fmt.Errorf("write: %w", r.err)
		}
	case <-ctx.Done():
		return fmt.Errorf("write: %w: %w", xregion.ErrOutcomeUnknown, context.Cause(ctx))
	}
	a.Notify()
	return nil
}

// stamp gives each record without a Version one from clock, after its Base
// (see xregion.Clock.Stamp).
func stamp(clock *xregion.Clock, region xregion.Region, ws []xregion.Write) error {
	for i := range ws {
		r := &ws[i].Record
		if !r.Version.IsZero() {
			continue
		}
		v, err := clock.Stamp(region, r.Base)
		if err != nil {
			return fmt.Errorf("stamp %s %q: %w", ws[i].Table, r.Key, err)
		}
		r.Version = v
	}
	return nil
}

// Notify tells the shippers that the local changelog has grown, so they
// ship now instead of at their next poll. Writes made through Write notify
// by themselves; call it after writing to the local store directly.
func (a *Async) Notify() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *Async) fanOutWakes(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
			for _, s := range a.shippers {
				s.notify()
			}
		}
	}
}

// Lag reports each peer's replication lag; see xregion.PeerLag.
func (a *Async) Lag(ctx context.Context) ([]xregion.PeerLag, error) {
	out := make([]xregion.PeerLag, 0, len(a.shippers))
	for _, s := range a.shippers {
		l, err := s.lag(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// Close stops the shippers and waits for them. Changes not yet shipped stay
// in the local changelog; the next replicator ships them. Writes in flight
// return an error wrapping ErrClosed and xregion.ErrOutcomeUnknown; later
// ones fail with ErrClosed.
func (a *Async) Close() error {
	a.cancel()
	a.wg.Wait()
	return nil
}

// shipper carries the local region's changes to one peer.
type shipper struct {
	cfg      config
	local    xregion.Store
	peer     xregion.Store
	wake     chan struct{}
	snapshot bool // ship every cfg.every, coalesced per key
	limit    int  // bytes per batch: MaxBatchBytes, lowered when the peer refuses a batch as too large

	mu struct {
		sync.Mutex
		wm          xregion.Position // the peer's watermark for us, as last seen
		known       bool             // wm has been read
		active      bool             // holds the lease and ships
		lastContact time.Time
		lastErr     error
		applied     int64
		conflicts   int64
	}
}

func (s *shipper) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *shipper) leaseName() string {
	return fmt.Sprintf("ship %s -> %s", s.local.Region(), s.peer.Region())
}

// run ships until ctx ends, taking the lease first where the local store
// offers one, and backing off with jitter after failures.
func (s *shipper) run(ctx context.Context) {
	bo := wait.Backoff{Min: s.cfg.pollInterval, Max: s.cfg.maxBackoff, Clock: s.cfg.clock}
	failures := 0
	reset := false // AlertPositionsReset was raised
	for ctx.Err() == nil {
		progressed, err := s.lead(ctx)
		if ctx.Err() != nil {
			return
		}
		if progressed {
			failures, reset = 0, false
			bo.Reset()
		}
		if err != nil {
			failures++
			s.fail(err)
			if errors.Is(err, xregion.ErrPositionsReset) {
				// It will not pass by itself: an operator must act.
				s.cfg.logger.Error("replicate: shipping stopped: changelog positions went back", "peer", s.peer.Region(), "err", err)
				if !reset {
					reset = true
					s.cfg.onAlert(Alert{Kind: AlertPositionsReset, Peer: s.peer.Region(), Err: err, At: s.cfg.clock.Now()})
				}
			} else {
				s.cfg.logger.Warn("replicate: shipping failed", "peer", s.peer.Region(), "attempt", failures, "err", err)
			}
			bo.Wait(ctx)
		}
	}
}

// lead ships while this process holds the lease to ship to the peer.
func (s *shipper) lead(ctx context.Context) (bool, error) {
	leaser, ok := s.local.(xregion.Leaser)
	if !ok {
		return s.ship(ctx)
	}
	lease, ok, err := leaser.TryLease(ctx, s.leaseName())
	if err != nil {
		return false, fmt.Errorf("take lease: %w", err)
	}
	if !ok {
		// Another process ships; look again after a heartbeat.
		wait.Sleep(ctx, s.cfg.clock, s.cfg.heartbeat)
		return false, nil
	}
	defer lease.Release()
	shipCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lease.Lost():
			cancel()
		case <-shipCtx.Done():
		}
	}()
	s.setActive(true)
	defer s.setActive(false)
	return s.ship(shipCtx)
}

// ship resumes from the peer's watermark and ships batches until an error.
// It reports whether it shipped anything.
func (s *shipper) ship(ctx context.Context) (progressed bool, err error) {
	from := s.local.Region()
	wm, err := s.peer.Watermark(ctx, from)
	if err != nil {
		return false, fmt.Errorf("read watermark of %s: %w", s.peer.Region(), err)
	}
	s.contact(wm)
	clock := s.cfg.clock
	beat := clock.Now().Add(s.cfg.heartbeat) // when the peer is next asked whether it is there
	// idle waits up to d (for new changes, unless snapshotting) and checks
	// on the peer every heartbeat, so a dead idle link shows.
	idle := func(d time.Duration) error {
		wake := s.wake
		if s.snapshot {
			wake = nil
		}
		t := clock.NewTimer(min(d, beat.Sub(clock.Now())))
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
			return nil
		case <-t.C():
		}
		now := clock.Now()
		if now.Before(beat) {
			return nil
		}
		beat = now.Add(s.cfg.heartbeat)
		w, err := s.peer.Watermark(ctx, from)
		if err != nil {
			return fmt.Errorf("heartbeat to %s: %w", s.peer.Region(), err)
		}
		wm = w
		s.contact(wm)
		return nil
	}
	next := clock.Now() // when a snapshot shipper next ships
	// While a batch applies on the peer, the changes after it are read
	// ahead, so the peer does not wait for the local read.
	var ahead <-chan changesRead
	for {
		if wait := next.Sub(clock.Now()); s.snapshot && wait > 0 {
			if err := idle(wait); err != nil {
				return progressed, err
			}
			continue
		}
		if ahead == nil {
			ahead = s.readAfter(ctx, wm)
		}
		read := <-ahead
		ahead = nil
		if errors.Is(read.err, xregion.ErrTruncated) {
			return progressed, needsResync(s.peer.Region(), read.err)
		}
		if read.err != nil {
			return progressed, fmt.Errorf("read changes: %w", read.err)
		}
		changes := read.changes[:batchEnd(read.changes, s.limit)]
		if len(changes) == 0 {
			if s.snapshot {
				next = clock.Now().Add(s.cfg.every)
				continue
			}
			if err := idle(s.cfg.pollInterval); err != nil {
				return progressed, err
			}
			continue
		}
		b := xregion.Batch{From: from, After: wm, Through: changes[len(changes)-1].Pos, Writes: writesOf(changes, s.snapshot)}
		ahead = s.readAfter(ctx, b.Through)
		res, err := s.peer.Apply(ctx, b)
		var wmErr *xregion.WatermarkError
		switch {
		case errors.Is(err, xregion.ErrTooLarge) && len(changes) > 1:
			s.limit = max(batchBytes(b.Writes)/2, 1)
			s.cfg.logger.Warn("replicate: peer refused a batch as too large; splitting it", "peer", s.peer.Region(),
				"changes", len(changes), "bytes", batchBytes(b.Writes), "err", err)
			ahead = nil
			continue
		case errors.As(err, &wmErr):
			// Someone else moved the watermark (a process that held the
			// lease before us): continue from where the peer stands.
			wm, ahead = wmErr.Have, nil
			s.contact(wm)
			continue
		case err != nil:
			return progressed, fmt.Errorf("apply batch on %s: %w", s.peer.Region(), err)
		}
		wm, progressed = b.Through, true
		s.shipped(wm, res)
	}
}

// batchEnd returns how many of changes, from the first, one batch carries:
// at least one, and no more than fit in limit bytes.
func batchEnd(changes []xregion.Change, limit int) int {
	n := 0
	for i, c := range changes {
		n += writeBytes(xregion.Write{Table: c.Table, Record: c.Record})
		if i > 0 && n > limit {
			return i
		}
	}
	return len(changes)
}

// writeBytes is what a write weighs against WithMaxBatchBytes: its key and
// value.
func writeBytes(w xregion.Write) int { return len(w.Record.Key) + len(w.Record.Value) }

func batchBytes(ws []xregion.Write) int {
	n := 0
	for _, w := range ws {
		n += writeBytes(w)
	}
	return n
}

// changesRead is the answer of a read of the local changelog.
type changesRead struct {
	changes []xregion.Change
	err     error
}

// readAfter reads the local changes after wm, at most a batch of them, in
// the background.
func (s *shipper) readAfter(ctx context.Context, wm xregion.Position) <-chan changesRead {
	ch := make(chan changesRead, 1)
	go func() {
		cs, err := s.local.Changes(ctx, xregion.ChangeQuery{After: wm, Origin: s.local.Region(), Limit: s.cfg.batchSize})
		ch <- changesRead{cs, err}
	}()
	return ch
}

// writesOf turns changes into writes, keeping only the last change of each
// key when coalescing: the batch still covers every position, and what a
// key held in between was superseded in the origin too.
func writesOf(changes []xregion.Change, coalesce bool) []xregion.Write {
	ws := make([]xregion.Write, 0, len(changes))
	if !coalesce {
		for _, c := range changes {
			ws = append(ws, xregion.Write{Table: c.Table, Record: c.Record, Pos: c.OriginPos})
		}
		return ws
	}
	type key struct{ table, key string }
	last := map[key]int{}
	for i, c := range changes {
		last[key{c.Table, c.Record.Key}] = i
	}
	for i, c := range changes {
		if last[key{c.Table, c.Record.Key}] == i {
			ws = append(ws, xregion.Write{Table: c.Table, Record: c.Record, Pos: c.OriginPos})
		}
	}
	return ws
}

// watermark returns the peer's watermark for the local region as last seen,
// and whether it was seen.
func (s *shipper) watermark() (xregion.Position, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.wm, s.mu.known
}

// needsResync says that peer lacks changes retention removed: shipping to it
// cannot go on until a resync brings it back.
func needsResync(peer xregion.Region, err error) error {
	return fmt.Errorf("%s needs a resync (resync.Run with this region) before shipping to it can resume: %w", peer, err)
}

func (s *shipper) setActive(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.active = v
}

func (s *shipper) contact(wm xregion.Position) {
	now := s.cfg.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.wm, s.mu.known, s.mu.lastContact, s.mu.lastErr = wm, true, now, nil
}

func (s *shipper) shipped(wm xregion.Position, res xregion.Result) {
	now := s.cfg.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.wm, s.mu.known, s.mu.lastContact, s.mu.lastErr = wm, true, now, nil
	s.mu.applied += int64(res.Applied)
	s.mu.conflicts += int64(res.Conflicts())
}

func (s *shipper) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.lastErr = err
}
