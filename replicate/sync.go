package replicate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xregion/xregion"
)

// ErrNotAcknowledged is wrapped by *SyncError: a synchronous write did not
// reach enough peers.
var ErrNotAcknowledged = errors.New("replicate: write not acknowledged")

// SyncError reports a synchronous write that was not acknowledged: whether it
// committed locally, and what each missing peer said. errors.Is finds
// ErrNotAcknowledged, and xregion.ErrOutcomeUnknown when a peer may hold the
// write although it did not confirm it.
type SyncError struct {
	Local    error                    // nil: the write committed in the local store
	Peers    map[xregion.Region]error // the peers that did not acknowledge, and why
	Acked    int                      // peers that hold it
	Required int                      // peers it needed
}

func (e *SyncError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "replicate: write not acknowledged: %d of %d required peers hold it", e.Acked, e.Required)
	if e.Local == nil {
		b.WriteString("; committed locally, it will reach the peers asynchronously")
	} else {
		fmt.Fprintf(&b, "; local commit failed: %v", e.Local)
	}
	peers := make([]xregion.Region, 0, len(e.Peers))
	for p := range e.Peers {
		peers = append(peers, p)
	}
	slices.Sort(peers)
	for _, p := range peers {
		fmt.Fprintf(&b, "; %s: %v", p, e.Peers[p])
	}
	return b.String()
}

// Unwrap returns ErrNotAcknowledged and the underlying errors.
func (e *SyncError) Unwrap() []error {
	errs := []error{ErrNotAcknowledged}
	if e.Local != nil {
		errs = append(errs, e.Local)
	}
	for _, err := range e.Peers {
		errs = append(errs, err)
	}
	return errs
}

// errDegraded is what a degraded peer reports for the writes it skipped.
var errDegraded = errors.New("degraded to asynchronous")

// Sync replicates a region synchronously (Tier 1, RPO 0): a write is stamped,
// committed in the local store and staged in the peers concurrently, and
// acknowledged only when the local store and the required peers (all, or
// WithQuorum(k)) hold it. Concurrent writers share round trips: each peer gets
// one batch for all the writes waiting when it is free (group commit).
//
// Staging (xregion.Stager) makes a write durable in the peer in one round
// trip without resolving it; the changelog stream of an embedded Async
// replicator is what resolves and applies it there, and what brings a
// degraded peer back up to date. A Sync is safe for concurrent use.
type Sync struct {
	cfg     config
	local   xregion.Store
	clock   *xregion.Clock
	async   *Async // ships the changelog, and group-commits the local writes
	peers   []*syncPeer
	rpo     *rpoWatch
	metrics *Metrics
	flying  struct {
		sync.Mutex
		writes map[xregion.Version]int // versions of the writes in flight, for Lag
	}
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	changed struct {
		sync.Mutex
		ch chan struct{} // closed when a peer changes state
	}
}

// NewSync starts a synchronous replicator from local to peers; Close stops
// it. Options: WithTier (only Tier1's RPO 0 needs Strict), WithPolicy,
// WithQuorum, WithDegradeAfter, WithMaxInFlight, WithBatchSize, WithMetrics, and the
// shipping options of NewAsync, WithRetention among them.
func NewSync(local xregion.Store, clock *xregion.Clock, peers []xregion.Store, opts ...Option) (*Sync, error) {
	cfg := newConfig(opts)
	if err := validate(local, clock, peers, cfg); err != nil {
		return nil, fmt.Errorf("new sync replicator: %w", err)
	}
	if cfg.quorum == 0 {
		cfg.quorum = len(peers)
	}
	switch {
	case cfg.quorum < 1 || cfg.quorum > len(peers):
		return nil, fmt.Errorf("new sync replicator: %w", &xregion.InvalidError{What: "quorum",
			Reason: fmt.Sprintf("%d of %d peers; want 1 to %d", cfg.quorum, len(peers), len(peers))})
	case cfg.degradeAfter <= 0 || cfg.maxInFlight < 1:
		return nil, fmt.Errorf("new sync replicator: %w", &xregion.InvalidError{What: "options",
			Reason: "WithDegradeAfter must be positive and WithMaxInFlight at least 1"})
	}
	for _, p := range peers {
		if _, ok := p.(xregion.Stager); !ok {
			return nil, fmt.Errorf("new sync replicator: %w", &xregion.InvalidError{What: "peer " + string(p.Region()),
				Reason: "cannot stage writes (xregion.Stager); a synchronous peer must, as memstore and pgstore do"})
		}
	}
	if cfg.tier != nil && cfg.tier.RPO == 0 && cfg.policy != Strict {
		return nil, &TierError{Tier: *cfg.tier, Target: "RPO 0", Reason: "the Degrade policy acknowledges writes no peer holds once a peer is silent",
			Fix: "use WithPolicy(Strict)"}
	}

	asyncCfg := cfg
	asyncCfg.tier = nil // the Sync watches its own lag against the tier
	s := &Sync{cfg: cfg, local: local, clock: clock, async: newAsync(local, clock, peers, asyncCfg, false), metrics: cfg.metrics}
	s.changed.ch = make(chan struct{})
	s.flying.writes = map[xregion.Version]int{}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	for i, p := range peers {
		sp := &syncPeer{index: i, store: p, stager: p.(xregion.Stager), shipper: s.async.shippers[i]}
		sp.c = startCommitter(ctx, &s.wg, cfg, s, sp, func(ctx context.Context, ws []xregion.Write) (xregion.Result, error) {
			return xregion.Result{}, sp.stager.Stage(ctx, local.Region(), ws)
		})
		s.peers = append(s.peers, sp)
	}
	s.wg.Go(func() { s.recover(ctx) })
	s.rpo = watchRPO(ctx, &s.wg, cfg, s.Lag)
	return s, nil
}

// Write stamps the records whose Version is zero, in place, and returns once
// the local store and the required peers hold them, or with a *SyncError.
// When the error wraps xregion.ErrOutcomeUnknown, sending the same stamped
// writes again is safe.
//
// Under Strict, a write not acknowledged by ctx's deadline fails. Under
// Degrade, a peer silent for WithDegradeAfter stops counting, and the write is
// acknowledged by the others (or by the local store alone); a guardrail
// then delays or refuses writes while the RPO is over the tier's target.
func (s *Sync) Write(ctx context.Context, ws ...xregion.Write) error {
	if err := s.rpo.admit(ctx); err != nil {
		return err
	}
	start := s.cfg.clock.Now()
	if err := stamp(s.clock, s.local.Region(), ws); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if err := (xregion.Batch{Writes: ws}).Validate(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	s.fly(ws, 1)
	defer s.fly(ws, -1)
	c := &call{ctx: ctx, writes: ws, start: start, done: make(chan result, 1+len(s.peers))}
	if err := s.async.commit.enqueue(c); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	sent := make([]bool, len(s.peers))
	for i, p := range s.peers {
		if p.sends() {
			if err := p.c.enqueue(c); err != nil {
				p.unstaged(start)
				c.done <- result{peer: i, err: err}
			} else {
				sent[i] = true
			}
		} else {
			p.unstaged(start)
			c.done <- result{peer: i, err: fmt.Errorf("%s %w", p.store.Region(), errDegraded)}
		}
	}
	err := s.wait(c)
	var se *SyncError
	switch {
	case !errors.As(err, &se):
	case se.Local == nil:
		// The local commit has finished: count what the peers that did
		// not acknowledge lack, from the write's start.
		for _, p := range s.peers {
			if se.Peers[p.store.Region()] != nil {
				p.unstaged(start)
			}
		}
	case !errors.Is(se.Local, xregion.ErrOutcomeUnknown):
		s.withdraw(ctx, ws, sent, se)
	}
	s.async.Notify()
	s.metrics.observeSync(s.cfg.clock.Now().Sub(start), err)
	return err
}

// fly counts the writes ws in flight (d = 1) or answered (d = -1).
func (s *Sync) fly(ws []xregion.Write, d int) {
	s.flying.Lock()
	defer s.flying.Unlock()
	for _, w := range ws {
		v := w.Record.Version
		if s.flying.writes[v] += d; s.flying.writes[v] <= 0 {
			delete(s.flying.writes, v)
		}
	}
}

// inFlight reports, for each change, whether its write is in flight.
func (s *Sync) inFlight(cs []xregion.Change) []bool {
	s.flying.Lock()
	defer s.flying.Unlock()
	out := make([]bool, len(cs))
	for i, c := range cs {
		out[i] = s.flying.writes[c.Record.Version] > 0
	}
	return out
}

// errWithdrawn is what a peer reports for a write withdrawn from its stage.
var errWithdrawn = errors.New("withdrawn from its stage: the local commit failed")

// withdraw takes a write whose local commit failed for certain off the
// stages of the peers it was sent to, so that no failover makes it visible
// there, and says in se what each may hold now: a peer that cannot be
// reached to withdraw it leaves its outcome unknown. It waits up to
// WithHeartbeat, even past ctx's end.
func (s *Sync) withdraw(ctx context.Context, ws []xregion.Write, sent []bool, se *SyncError) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.heartbeat)
	defer cancel()
	errs := make([]error, len(s.peers))
	var wg sync.WaitGroup
	for i, p := range s.peers {
		if sent[i] {
			wg.Go(func() { errs[i] = p.stager.Withdraw(ctx, s.local.Region(), ws) })
		}
	}
	wg.Wait()
	se.Acked = 0
	for i, p := range s.peers {
		switch {
		case !sent[i]:
		case errs[i] == nil:
			se.Peers[p.store.Region()] = errWithdrawn
		default:
			se.Peers[p.store.Region()] = fmt.Errorf("%w: it may hold the write staged, and withdrawing it failed: %w",
				xregion.ErrOutcomeUnknown, errs[i])
		}
	}
}

// result is one target's answer for a call: peer -1 is the local store.
type result struct {
	peer int
	err  error
}

// wait collects the targets' answers until the write is acknowledged, or
// cannot be: the local commit failed, every peer answered and too few hold
// it, or the caller's context ended. Peers answer with an error only when
// they give up: under Strict when the call's context ends, under Degrade when
// the peer is degraded (which also lowers how many peers are required).
func (s *Sync) wait(c *call) error {
	var (
		local    *result
		acked    = map[int]bool{}
		failed   = map[int]error{}
		degraded int // peers that skipped this write, degraded
	)
	for {
		required, changed := s.required()
		if s.cfg.policy == Degrade {
			// A peer that skipped this write was degraded when it did,
			// even if it answers again by now (recovering): it does not
			// count for this write.
			required = min(required, len(s.peers)-degraded)
		}
		switch {
		case local != nil && local.err == nil && len(acked) >= required:
			return nil
		case local != nil && local.err != nil,
			local != nil && len(acked)+len(failed) == len(s.peers):
			return s.syncError(c, local, acked, failed, required)
		}
		select {
		case r := <-c.done:
			switch {
			case r.peer < 0:
				local = &r
			case r.err == nil:
				acked[r.peer] = true
			default:
				failed[r.peer] = r.err
				if errors.Is(r.err, errDegraded) {
					degraded++
				}
			}
		case <-changed:
		case <-c.ctx.Done():
			if local != nil && local.err == nil && len(acked) >= required {
				return nil
			}
			return s.syncError(c, local, acked, failed, required)
		}
	}
}

// syncError describes a write that was not acknowledged. A target that has
// not answered may still commit it: its outcome is unknown.
func (s *Sync) syncError(c *call, local *result, acked map[int]bool, failed map[int]error, required int) error {
	e := &SyncError{Acked: len(acked), Required: required, Peers: map[xregion.Region]error{}}
	if local == nil {
		e.Local = fmt.Errorf("%w: %w", xregion.ErrOutcomeUnknown, context.Cause(c.ctx))
	} else {
		e.Local = local.err
	}
	for i, p := range s.peers {
		switch {
		case acked[i]:
		case failed[i] != nil:
			e.Peers[p.store.Region()] = failed[i]
		default:
			e.Peers[p.store.Region()] = fmt.Errorf("%w: no answer yet", xregion.ErrOutcomeUnknown)
		}
	}
	return e
}

// required returns how many peers a write needs now, and a channel closed
// when that may change. Degraded peers do not count under Degrade.
func (s *Sync) required() (int, <-chan struct{}) {
	s.changed.Lock()
	ch := s.changed.ch
	s.changed.Unlock()
	if s.cfg.policy == Strict {
		return s.cfg.quorum, ch
	}
	sending := 0
	for _, p := range s.peers {
		if p.sends() {
			sending++
		}
	}
	return min(s.cfg.quorum, sending), ch
}

func (s *Sync) stateChanged() {
	s.changed.Lock()
	defer s.changed.Unlock()
	close(s.changed.ch)
	s.changed.ch = make(chan struct{})
}

// Close stops the replicator. Writes in flight return an error wrapping
// ErrClosed and, where a target may hold them, xregion.ErrOutcomeUnknown;
// later ones fail with ErrClosed.
func (s *Sync) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.async.Close()
}

// call is one Write waiting for its targets.
type call struct {
	ctx    context.Context
	writes []xregion.Write
	start  time.Time
	done   chan result
}
