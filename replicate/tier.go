package replicate

import (
	"errors"
	"fmt"
	"time"
)

// Strategy is how a tier replicates.
type Strategy int

const (
	// StrategySync acknowledges a write once peers hold it (RPO 0).
	StrategySync Strategy = iota + 1
	// StrategyAsync ships the changelog continuously.
	StrategyAsync
	// StrategySnapshot ships at a fixed interval, coalesced per key.
	StrategySnapshot
	// StrategyBackup keeps one region and relies on backups.
	StrategyBackup
)

func (s Strategy) String() string {
	switch s {
	case StrategySync:
		return "synchronous"
	case StrategyAsync:
		return "asynchronous"
	case StrategySnapshot:
		return "snapshot"
	case StrategyBackup:
		return "backup"
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// Tier is a class of service with recovery targets: how much data it may
// lose when a region fails (RPO) and how long it may take to recover (RTO).
type Tier struct {
	Name     string
	RPO, RTO time.Duration
	Strategy Strategy
}

// The four tiers of the multi-region design.
var (
	// Tier1 is for payments: nothing acknowledged may be lost.
	Tier1 = Tier{Name: "tier1", RPO: 0, RTO: 15 * time.Minute, Strategy: StrategySync}
	// Tier2 is for customer APIs: active-passive, asynchronous.
	Tier2 = Tier{Name: "tier2", RPO: 15 * time.Minute, RTO: time.Hour, Strategy: StrategyAsync}
	// Tier3 is for reporting: periodic snapshots.
	Tier3 = Tier{Name: "tier3", RPO: time.Hour, RTO: 4 * time.Hour, Strategy: StrategySnapshot}
	// Tier4 is single-region with backups.
	Tier4 = Tier{Name: "tier4", RPO: 24 * time.Hour, RTO: 24 * time.Hour, Strategy: StrategyBackup}
)

// ErrTierUnmet is wrapped by *TierError.
var ErrTierUnmet = errors.New("replicate: configuration cannot meet its tier")

// TierError says which tier a configuration cannot meet, which target, and
// what would fix it.
type TierError struct {
	Tier   Tier
	Target string // "RPO 0", "RPO 1h0m0s", …
	Reason string
	Fix    string
}

func (e *TierError) Error() string {
	return fmt.Sprintf("replicate: %s cannot meet its %s: %s; %s", e.Tier.Name, e.Target, e.Reason, e.Fix)
}

// Unwrap returns ErrTierUnmet.
func (e *TierError) Unwrap() error { return ErrTierUnmet }

// checkTier refuses a replicator of strategy s whose worst-case RPO is
// worstRPO for tier t.
func checkTier(t Tier, s Strategy, worstRPO time.Duration) error {
	target := "RPO " + t.RPO.String()
	switch {
	case t.RPO == 0 && s != StrategySync:
		return &TierError{Tier: t, Target: target, Reason: "the " + s.String() + " strategy acknowledges writes before any peer has them",
			Fix: "use NewSync with the Strict policy"}
	case worstRPO > t.RPO:
		return &TierError{Tier: t, Target: target, Reason: fmt.Sprintf("this %s replicator can lose up to %s", s, worstRPO),
			Fix: fmt.Sprintf("ship at least every %s", t.RPO)}
	}
	return nil
}
