package health

import (
	"time"

	"github.com/xregion/xregion"
)

// Status is a report's verdict, or one check's or link's.
type Status string

// The statuses. A check is only ever UP or DOWN.
const (
	StatusUp       Status = "UP"
	StatusDegraded Status = "DEGRADED"
	StatusDown     Status = "DOWN"
)

// The reasons a failed check gives, the only words of its failure that
// reach the body.
const (
	ReasonTimeout = "timeout" // it did not return within its timeout
	ReasonError   = "error"   // it returned an error (logged, not reported)
)

// Report is the body of a /health answer; its JSON is the stable contract
// described in the package doc.
type Report struct {
	Status      Status                 `json:"status"`
	Region      xregion.Region         `json:"region"`
	Timestamp   string                 `json:"timestamp"` // RFC 3339, UTC, when the checks ran
	Checks      map[string]CheckResult `json:"checks"`
	Replication []LinkReport           `json:"replication"`
}

// CheckResult is one check's outcome.
type CheckResult struct {
	Status    Status  `json:"status"` // UP or DOWN
	Critical  bool    `json:"critical"`
	LatencyMS float64 `json:"latency_ms"`
	Reason    string  `json:"reason,omitempty"` // ReasonTimeout or ReasonError when DOWN
}

// LinkReport is one replication link to a peer.
type LinkReport struct {
	Peer           xregion.Region `json:"peer"`
	Tier           string         `json:"tier"`
	State          string         `json:"state"`  // LinkState.String(), "unknown" if unset
	Status         Status         `json:"status"` // UP, or DEGRADED: over target, not healthy, or erring
	RPOMS          int64          `json:"rpo_ms"`
	TargetMS       int64          `json:"target_ms"`
	LastContact    string         `json:"last_contact,omitempty"` // RFC 3339, UTC; absent if never
	SinceContactMS int64          `json:"since_contact_ms"`
	Pending        int64          `json:"pending"`
}

// linkReport judges one link: DEGRADED when its RPO is over target, its
// state is set and not healthy, or its last call failed.
func linkReport(tier string, target time.Duration, l xregion.PeerLag, now time.Time) LinkReport {
	r := LinkReport{
		Peer:           l.Peer,
		Tier:           tier,
		State:          "unknown",
		Status:         StatusUp,
		RPOMS:          l.RPO.Milliseconds(),
		TargetMS:       target.Milliseconds(),
		SinceContactMS: l.SinceContact(now).Milliseconds(),
		Pending:        l.Pending,
	}
	if l.State != 0 {
		r.State = l.State.String()
	}
	if !l.LastContact.IsZero() {
		r.LastContact = l.LastContact.UTC().Format(time.RFC3339Nano)
	}
	if l.RPO > target || (l.State != 0 && !l.State.Healthy()) || l.Err != nil {
		r.Status = StatusDegraded
	}
	return r
}

// verdict is the status rule: DOWN if a critical check failed, DEGRADED if
// another check failed or a link is degraded, UP otherwise.
func verdict(checks map[string]CheckResult, links []LinkReport) Status {
	s := StatusUp
	for _, c := range checks {
		if c.Status == StatusUp {
			continue
		}
		if c.Critical {
			return StatusDown
		}
		s = StatusDegraded
	}
	for _, l := range links {
		if l.Status != StatusUp {
			s = StatusDegraded
		}
	}
	return s
}
