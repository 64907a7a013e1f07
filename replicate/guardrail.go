package replicate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// AlertKind says what an Alert is about.
type AlertKind int

const (
	// AlertOverTarget: a peer's RPO passed its tier's target.
	AlertOverTarget AlertKind = iota + 1
	// AlertBackOnTarget: it is back within the target.
	AlertBackOnTarget
	// AlertDegraded: a synchronous peer stopped answering and the
	// replicator carries on without it (Degrade policy): RPO is no longer 0.
	AlertDegraded
	// AlertRecovered: a degraded peer caught up and is synchronous again.
	AlertRecovered
	// AlertTruncated: retention removed changes the peer had not applied,
	// because it stayed dark past Retention.MaxUnconfirmed. Shipping to it
	// fails until a resync (package resync) brings it back. Err is the
	// *xregion.TruncatedError.
	AlertTruncated
	// AlertPositionsReset: the local changelog's positions went back (its
	// database was restored onto another server, say), so shipping to the
	// peer stopped: Err is the *xregion.PositionsError, which says what to
	// do. Raised once, until shipping succeeds again.
	AlertPositionsReset
)

func (k AlertKind) String() string {
	switch k {
	case AlertOverTarget:
		return "rpo over target"
	case AlertBackOnTarget:
		return "rpo back on target"
	case AlertDegraded:
		return "degraded to asynchronous"
	case AlertRecovered:
		return "synchronous again"
	case AlertTruncated:
		return "changes removed unapplied: resync needed"
	case AlertPositionsReset:
		return "changelog positions went back"
	}
	return fmt.Sprintf("AlertKind(%d)", int(k))
}

// Alert is what WithAlerts receives.
type Alert struct {
	Kind   AlertKind
	Peer   xregion.Region
	RPO    time.Duration // the peer's RPO when the alert was raised
	Target time.Duration // the tier's RPO target, if a tier is set
	Err    error         // why a peer was degraded, what it lacks, or why shipping stopped
	At     time.Time
}

// Guardrail says what happens to new writes while a peer's RPO is over the
// tier's target. The zero Guardrail lets them through.
type Guardrail struct {
	// Reject refuses new writes with an *RPOError.
	Reject bool
	// Throttle delays each new write by this much, slowing the writers so
	// the shippers catch up.
	Throttle time.Duration
}

// WithGuardrail sets the guardrail; it needs WithTier. Default: none.
func WithGuardrail(g Guardrail) Option { return option(func(c *config) { c.guardrail = g }) }

// ErrRPOExceeded is wrapped by *RPOError.
var ErrRPOExceeded = errors.New("replicate: RPO over the tier's target")

// RPOError refuses a write while a peer's RPO is over the tier's target.
type RPOError struct {
	Tier   string
	Peer   xregion.Region
	RPO    time.Duration
	Target time.Duration
}

func (e *RPOError) Error() string {
	return fmt.Sprintf("replicate: write refused: %s RPO to %s is %s, over the target %s", e.Tier, e.Peer, e.RPO.Round(time.Millisecond), e.Target)
}

// Unwrap returns ErrRPOExceeded.
func (e *RPOError) Unwrap() error { return ErrRPOExceeded }

// rpoWatch watches the lag against the tier's target, raises alerts when a
// peer crosses it, and applies the guardrail to writes meanwhile.
type rpoWatch struct {
	cfg  config
	over atomic.Pointer[RPOError] // the worst peer over target, or nil
}

// watchRPO starts watching lag every heartbeat, if a tier is set: the
// guardrail of WithGuardrail, not to be confused with partition.Guard, which
// fences writes of a stale home region.
func watchRPO(ctx context.Context, wg *sync.WaitGroup, cfg config, lag func(context.Context) ([]xregion.PeerLag, error)) *rpoWatch {
	g := &rpoWatch{cfg: cfg}
	if cfg.tier == nil {
		return g
	}
	wg.Go(func() {
		over := map[xregion.Region]bool{}
		for wait.Sleep(ctx, cfg.clock, cfg.heartbeat) == nil {
			lags, err := lag(ctx)
			if err != nil {
				cfg.logger.Warn("replicate: measure lag", "err", err)
				continue
			}
			g.check(lags, over)
		}
	})
	return g
}

// check compares each peer's RPO with the target, alerting on crossings.
func (g *rpoWatch) check(lags []xregion.PeerLag, over map[xregion.Region]bool) {
	target := g.cfg.tier.RPO
	var worst *RPOError
	for _, l := range lags {
		now := l.RPO > target
		if now != over[l.Peer] {
			kind := AlertBackOnTarget
			if now {
				kind = AlertOverTarget
			}
			g.cfg.onAlert(Alert{Kind: kind, Peer: l.Peer, RPO: l.RPO, Target: target, At: g.cfg.clock.Now()})
			g.cfg.logger.Warn("replicate: "+kind.String(), "tier", g.cfg.tier.Name, "peer", l.Peer, "rpo", l.RPO, "target", target)
			over[l.Peer] = now
		}
		if now && (worst == nil || l.RPO > worst.RPO) {
			worst = &RPOError{Tier: g.cfg.tier.Name, Peer: l.Peer, RPO: l.RPO, Target: target}
		}
	}
	g.over.Store(worst)
}

// admit applies the guardrail to a new write.
func (g *rpoWatch) admit(ctx context.Context) error {
	e := g.over.Load()
	if e == nil {
		return nil
	}
	if g.cfg.guardrail.Reject {
		return e
	}
	if d := g.cfg.guardrail.Throttle; d > 0 {
		return wait.Sleep(ctx, g.cfg.clock, d)
	}
	return nil
}
