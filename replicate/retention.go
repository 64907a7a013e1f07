package replicate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// Defaults of Retention's fields.
const (
	DefaultRetentionEvery   = 10 * time.Second
	DefaultMaxUnconfirmed   = 1 << 30 // bytes of keys and values: 1 GiB
	DefaultPeerChangesFor   = 24 * time.Hour
	DefaultTombstoneHorizon = 24 * time.Hour
	DefaultLedgerFor        = 30 * 24 * time.Hour
	DefaultRetentionBatch   = 1000
)

// Forever, as a duration of Retention, keeps what it bounds for ever.
const Forever time.Duration = math.MaxInt64

// Retention says what the local store keeps (see the package doc, Retention).
// A zero field takes its default.
type Retention struct {
	// Every is how often a replicator runs retention. Default
	// DefaultRetentionEvery.
	Every time.Duration
	// MaxUnconfirmed bounds the local region's changes kept for a peer that
	// has not confirmed them, in key and value bytes as
	// xregion.PeerLag.PendingBytes counts them: past it the oldest go, an
	// AlertTruncated names the peer, and the peer needs a resync. Default
	// DefaultMaxUnconfirmed.
	MaxUnconfirmed int64
	// PeerChangesFor is how long changes applied from peers stay in the
	// changelog (no one ships them today; a forwarder of a lost region's
	// writes will, see the package doc). Forever keeps them. Default
	// DefaultPeerChangesFor.
	PeerChangesFor time.Duration
	// TombstoneHorizon is how long after every region applied everything
	// written up to a tombstone the tombstone is kept: longer than a write
	// can take from its stamp to its commit, retries included, and than
	// clocks drift apart (see the package doc's HAZARD). It also keeps
	// withdrawals of staged writes (xregion.Stager.Withdraw). Forever
	// keeps tombstones for ever. Default DefaultTombstoneHorizon.
	TombstoneHorizon time.Duration
	// LedgerFor is how long lost-update ledger entries are kept; entries
	// every reader acknowledged (xregion.Retainer.AckLostUpdates) go
	// sooner. Forever keeps them until acknowledged. Default
	// DefaultLedgerFor.
	LedgerFor time.Duration
	// BatchSize is the most rows one statement removes. Default
	// DefaultRetentionBatch.
	BatchSize int
}

func (r Retention) withDefaults() Retention {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&r.Every, DefaultRetentionEvery)
	def(&r.PeerChangesFor, DefaultPeerChangesFor)
	def(&r.TombstoneHorizon, DefaultTombstoneHorizon)
	def(&r.LedgerFor, DefaultLedgerFor)
	if r.MaxUnconfirmed == 0 {
		r.MaxUnconfirmed = DefaultMaxUnconfirmed
	}
	if r.BatchSize == 0 {
		r.BatchSize = DefaultRetentionBatch
	}
	return r
}

func (r Retention) validate() error {
	switch {
	case r.Every < 0 || r.PeerChangesFor < 0 || r.TombstoneHorizon < 0 || r.LedgerFor < 0:
		return &xregion.InvalidError{What: "retention", Reason: "a negative duration; want a positive one, or zero for the default, or Forever"}
	case r.MaxUnconfirmed < 0:
		return &xregion.InvalidError{What: "retention", Reason: fmt.Sprintf("MaxUnconfirmed %d; want bytes, or zero for the default %d", r.MaxUnconfirmed, DefaultMaxUnconfirmed)}
	case r.BatchSize < 0 || r.BatchSize > xregion.MaxChangeLimit:
		return &xregion.InvalidError{What: "retention", Reason: fmt.Sprintf("BatchSize %d; want 1 to %d, or zero for the default %d", r.BatchSize, xregion.MaxChangeLimit, DefaultRetentionBatch)}
	}
	return nil
}

// WithRetention makes the replicator run retention on the local store every
// r.Every: it removes the local changes every peer has applied (and, past
// r.MaxUnconfirmed, those a dark peer has not), the changes applied from
// peers after r.PeerChangesFor, tombstones no older write can come back
// past, ledger entries after r.LedgerFor or once acknowledged, and staged
// writes that were settled. The local store must be an xregion.Retainer.
// Where it is an xregion.Leaser, one process of the region runs it at a
// time. Default: none; Retain runs the same once, when the caller
// schedules it.
func WithRetention(r Retention) Option {
	return option(func(c *config) { c.retention = &r })
}

// RetentionReport is what one run of retention did.
type RetentionReport struct {
	// Through is where the local region's changes now start: the changelog
	// holds those after it.
	Through xregion.Position
	// Changes, PeerChanges, Tombstones, Ledger and Staged count what was
	// removed: the local region's changes, changes applied from peers,
	// tombstones, ledger entries, and staged writes and withdrawals.
	Changes, PeerChanges, Tombstones, Ledger, Staged int
	// Stable is when every region had applied every change appended
	// before it (the bound tombstones are collected by, less the horizon);
	// zero when some region could not say, and no tombstone was collected.
	Stable time.Time
	// Truncated lists the peers that lacked changes this run removed:
	// MaxUnconfirmed was reached. Each needs a resync before it can be
	// shipped to again. An AlertTruncated was raised for each.
	Truncated []xregion.Region
}

// ErrNotRetainer is returned by Retain and WithRetention's constructors for
// a local store that does not implement xregion.Retainer.
var ErrNotRetainer = errors.New("replicate: store does not implement xregion.Retainer")

// Retain runs retention once on local, with peers (the stores of every other
// region, as a replicator is given them): what WithRetention runs every
// r.Every, for a caller that schedules it instead. It is safe to run
// alongside a replicator, or in several processes at once: each removal
// takes what is still there. Options: WithHeartbeat (how long each peer may
// take to answer), WithAlerts, WithLogger, WithMetrics, WithTimers.
func Retain(ctx context.Context, local xregion.Store, peers []xregion.Store, r Retention, opts ...Option) (RetentionReport, error) {
	cfg := newConfig(opts)
	cfg.retention = &r
	if err := validateRetention(local, peers, cfg); err != nil {
		return RetentionReport{}, fmt.Errorf("retain: %w", err)
	}
	return newRetainer(local, peers, cfg, nil).run(ctx)
}

// validateRetention checks what Retain and WithRetention are given.
func validateRetention(local xregion.Store, peers []xregion.Store, cfg config) error {
	switch {
	case local == nil:
		return &xregion.InvalidError{What: "local store", Reason: "nil"}
	case len(peers) == 0:
		return &xregion.InvalidError{What: "peers", Reason: "none; pass the stores of the other regions"}
	case cfg.heartbeat <= 0:
		return &xregion.InvalidError{What: "heartbeat", Reason: "must be positive"}
	case cfg.logger == nil || cfg.onAlert == nil || cfg.clock == nil:
		return &xregion.InvalidError{What: "options", Reason: "nil logger, alert callback or clock"}
	}
	if _, ok := local.(xregion.Retainer); !ok {
		return fmt.Errorf("%w: region %s (%T)", ErrNotRetainer, local.Region(), local)
	}
	for _, p := range peers {
		if p == nil {
			return &xregion.InvalidError{What: "peers", Reason: "a nil store"}
		}
	}
	return cfg.retention.validate()
}

// retainer runs retention on one store.
type retainer struct {
	cfg   config
	r     Retention
	local xregion.Store
	ret   xregion.Retainer
	peers []xregion.Store
	// known returns the watermark the replicator last saw peer i at, for a
	// peer that does not answer now; nil for Retain.
	known func(i int) (xregion.Position, bool)
}

func newRetainer(local xregion.Store, peers []xregion.Store, cfg config, known func(int) (xregion.Position, bool)) *retainer {
	return &retainer{cfg: cfg, r: cfg.retention.withDefaults(), local: local, ret: local.(xregion.Retainer), peers: peers, known: known}
}

// loop runs retention every r.Every until ctx ends, under a lease where
// the store offers one.
func (rt *retainer) loop(ctx context.Context) {
	for wait.Sleep(ctx, rt.cfg.clock, rt.r.Every) == nil {
		if leaser, ok := rt.local.(xregion.Leaser); ok {
			lease, ok, err := leaser.TryLease(ctx, "retain "+string(rt.local.Region()))
			if err != nil || !ok {
				continue // another process runs it, or the store is away: next time
			}
			rt.runLogged(ctx)
			lease.Release()
			continue
		}
		rt.runLogged(ctx)
	}
}

func (rt *retainer) runLogged(ctx context.Context) {
	rep, err := rt.run(ctx)
	if err != nil && ctx.Err() == nil {
		rt.cfg.logger.Warn("replicate: retention failed", "err", err)
		return
	}
	rt.cfg.logger.Debug("replicate: retention", "through", rep.Through, "changes", rep.Changes, "peer_changes", rep.PeerChanges,
		"tombstones", rep.Tombstones, "ledger", rep.Ledger, "staged", rep.Staged)
}

// peerCtx bounds a call to a peer by a heartbeat: a dark peer must not
// hold retention up.
func (rt *retainer) peerCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, rt.cfg.heartbeat)
}

// run is one pass: the local changes, the peers' changes, the stage, the
// tombstones (after the stage, whose writes keep theirs), the ledger. A
// step that fails does not keep the others from running; the error joins
// theirs.
func (rt *retainer) run(ctx context.Context) (RetentionReport, error) {
	var (
		rep  RetentionReport
		errs []error
	)
	step := func(what string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	now, err := rt.truncateOwn(ctx, &rep)
	step("truncate "+string(rt.local.Region())+"'s changes", err)
	if now.IsZero() {
		return rep, errors.Join(errs...) // no store clock to place the other bounds on
	}
	if rt.r.PeerChangesFor != Forever {
		for _, p := range rt.peers {
			n, err := rt.repeat(ctx, func(limit int) (int, error) {
				return rt.ret.TruncateChanges(ctx, xregion.Truncation{Origin: p.Region(), Before: now.Add(-rt.r.PeerChangesFor), Limit: limit})
			})
			rep.PeerChanges += n
			step("truncate "+string(p.Region())+"'s changes", err)
		}
	}
	var fences time.Time // withdrawals older than the horizon go; Forever keeps them
	if rt.r.TombstoneHorizon != Forever {
		fences = now.Add(-rt.r.TombstoneHorizon)
	}
	rep.Staged, err = rt.repeat(ctx, func(limit int) (int, error) { return rt.ret.SweepStage(ctx, fences, limit) })
	step("sweep the stage", err)
	if rt.r.TombstoneHorizon != Forever && err == nil { // a staged write keeps its key's tombstone: sweep first
		rep.Stable, err = rt.stable(ctx)
		step("ask the regions what they applied", err)
		if !rep.Stable.IsZero() {
			upTo := rep.Stable
			if now.Before(upTo) {
				upTo = now
			}
			before := xregion.Timestamp{WallTime: upTo.Add(-rt.r.TombstoneHorizon).UnixNano()}
			rep.Tombstones, err = rt.repeat(ctx, func(limit int) (int, error) { return rt.ret.CollectTombstones(ctx, before, limit) })
			step("collect tombstones", err)
		}
	}
	var ledger time.Time
	if rt.r.LedgerFor != Forever {
		ledger = now.Add(-rt.r.LedgerFor)
	}
	rep.Ledger, err = rt.repeat(ctx, func(limit int) (int, error) { return rt.ret.TrimLedger(ctx, ledger, limit) })
	step("trim the ledger", err)
	rt.cfg.metrics.observeRetention(rep)
	return rep, errors.Join(errs...)
}

// repeat calls remove with the batch size until it removes fewer, and
// returns how many it removed in all.
func (rt *retainer) repeat(ctx context.Context, remove func(limit int) (int, error)) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := remove(rt.r.BatchSize)
		total += n
		if err != nil || n < rt.r.BatchSize {
			return total, err
		}
	}
}

// peerMark is what retention knows of one peer's place in the local
// changelog.
type peerMark struct {
	wm      xregion.Position // what it confirmed; the mark if unknown
	known   bool             // wm is the peer's (or was, as the replicator last saw it)
	keep    xregion.Position // the local changes after this are kept for it
	limited bool             // keep is past wm: MaxUnconfirmed was reached
}

// truncateOwn removes the local region's changes that every peer applied,
// and those past MaxUnconfirmed that a peer did not, and alerts for each
// peer that lacked some. It returns the store's clock.
func (rt *retainer) truncateOwn(ctx context.Context, rep *RetentionReport) (time.Time, error) {
	origin := rt.local.Region()
	mark, _, err := rt.ret.Truncated(ctx, origin)
	if err != nil {
		return time.Time{}, err
	}
	var now time.Time
	marks := make([]peerMark, len(rt.peers))
	for i, p := range rt.peers {
		m := &marks[i]
		pctx, cancel := rt.peerCtx(ctx)
		wm, err := p.Watermark(pctx, origin)
		cancel()
		switch {
		case err == nil:
			m.wm, m.known = wm, true
		case rt.known != nil:
			m.wm, m.known = rt.known(i)
		}
		// A peer below the mark lacks removed changes already and needs a
		// resync; like a peer never heard from, what is kept for it is
		// kept from the mark.
		from := m.wm
		if from.Less(mark) || !m.known {
			from = mark
		}
		b, err := rt.local.Backlog(ctx, from, origin)
		if err != nil {
			return now, err
		}
		now, m.keep = b.Now, from
		if b.Bytes > rt.r.MaxUnconfirmed {
			if m.keep, err = rt.cut(ctx, from, b.Bytes-rt.r.MaxUnconfirmed); err != nil {
				return now, err
			}
			m.limited = from.Less(m.keep)
		}
	}
	through := marks[0].keep
	for _, m := range marks[1:] {
		if m.keep.Less(through) {
			through = m.keep
		}
	}
	rep.Through = mark
	if mark.Less(through) {
		rep.Changes, err = rt.repeat(ctx, func(limit int) (int, error) {
			return rt.ret.TruncateChanges(ctx, xregion.Truncation{Origin: origin, Through: through, Limit: limit})
		})
		if err != nil {
			return now, err
		}
	}
	newMark, at, err := rt.ret.Truncated(ctx, origin)
	if err != nil {
		return now, err
	}
	rep.Through = newMark
	for i, m := range marks {
		// A peer that lacked nothing removed before this run and lacks
		// some now; or one never heard from, whose share was cut.
		if m.known && !m.wm.Less(mark) && m.wm.Less(newMark) || !m.known && m.limited && mark.Less(newMark) {
			peer := rt.peers[i].Region()
			rep.Truncated = append(rep.Truncated, peer)
			e := &xregion.TruncatedError{Region: origin, Origin: origin, After: m.wm, Through: newMark, Time: at}
			rt.cfg.logger.Error("replicate: changes a peer has not applied were removed: it needs a resync", "peer", peer,
				"max_unconfirmed", rt.r.MaxUnconfirmed, "watermark_known", m.known, "err", e)
			rt.cfg.metrics.observeTruncated(peer)
			rt.cfg.onAlert(Alert{Kind: AlertTruncated, Peer: peer, Err: e, At: rt.cfg.clock.Now()})
		}
	}
	return now, nil
}

// cut returns the position through which the local region's changes after
// from hold excess bytes: removing through it leaves MaxUnconfirmed.
func (rt *retainer) cut(ctx context.Context, from xregion.Position, excess int64) (xregion.Position, error) {
	at, sum := from, int64(0)
	for {
		cs, err := rt.local.Changes(ctx, xregion.ChangeQuery{After: at, Origin: rt.local.Region(), Limit: rt.r.BatchSize})
		if err != nil || len(cs) == 0 {
			return at, err // what open transactions hide is left for the next run
		}
		for _, c := range cs {
			sum += int64(len(c.Record.Key) + len(c.Record.Value))
			at = c.Pos
			if sum >= excess {
				return at, nil
			}
		}
	}
}

// stable returns when every region (the local one and the peers) had
// applied every change each other region appended before it: for every
// ordered pair, the time of the oldest change of the one the other lacks
// (by the first one's store clock), or that store's now if it lacks none.
// It is zero if a region does not answer, or lacks changes retention
// removed (it needs a resync, and what it holds is unknown).
func (rt *retainer) stable(ctx context.Context) (time.Time, error) {
	regions := append([]xregion.Store{rt.local}, rt.peers...)
	var stable time.Time
	for _, from := range regions {
		var mark xregion.Position
		if r, ok := from.(xregion.Retainer); ok {
			pctx, cancel := rt.peerCtx(ctx)
			m, _, err := r.Truncated(pctx, from.Region())
			cancel()
			if err != nil {
				return time.Time{}, ctx.Err()
			}
			mark = m
		}
		for _, to := range regions {
			if to == from {
				continue
			}
			pctx, cancel := rt.peerCtx(ctx)
			wm, err := to.Watermark(pctx, from.Region())
			var b xregion.Backlog
			if err == nil && !wm.Less(mark) {
				b, err = from.Backlog(pctx, wm, from.Region())
			}
			cancel()
			if err != nil || wm.Less(mark) {
				return time.Time{}, ctx.Err()
			}
			t := b.Now
			if b.Changes > 0 {
				t = b.Oldest
			}
			if stable.IsZero() || t.Before(stable) {
				stable = t
			}
		}
	}
	return stable, nil
}
