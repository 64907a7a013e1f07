package ops

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xregion/xregion"
)

// State is where a proposal stands.
type State string

// The states of a proposal, in the order it goes through them.
const (
	StateOpen     State = "open"     // waiting for approvals
	StateApproved State = "approved" // approved: its steps are to run, or some did not finish
	StateDone     State = "done"     // every step done
)

// Limits on what a proposal holds.
const (
	MaxNameLen   = 128  // bytes of a person's name, as partition records them
	MaxReasonLen = 1024 // bytes of a proposal's reason
	idBytes      = 4    // random bytes of an id: 8 hex digits
)

// Errors of the approval rules. Approve wraps them with the details.
var (
	// ErrOwnProposal: the proposer counts as the first approval, and may
	// not approve again.
	ErrOwnProposal = errors.New("the proposer cannot approve their own proposal")
	// ErrApprovedTwice: one person, one approval.
	ErrApprovedTwice = errors.New("already approved by this person")
	// ErrApproved: the proposal has its approvals already; approve runs
	// its steps instead.
	ErrApproved = errors.New("proposal approved already")
	// ErrDone: the proposal was carried out.
	ErrDone = errors.New("proposal already carried out")
)

// Proposal is a proposed failover, as stored (JSON) in the target region.
// A Proposal is a value; it is not safe for concurrent use.
type Proposal struct {
	ID         string         `json:"id"`
	From       xregion.Region `json:"from"` // the region that is gone
	To         xregion.Region `json:"to"`   // the region that takes over
	By         string         `json:"by"`   // the proposer
	Reason     string         `json:"reason,omitempty"`
	Force      bool           `json:"force,omitempty"` // proposed although From answered
	ProposedAt time.Time      `json:"proposed_at"`
	// Approvals are the distinct people who approved, the proposer first.
	Approvals []Approval `json:"approvals"`
	State     State      `json:"state"`
	// Steps are the outcomes recorded so far, by step name.
	Steps  map[string]StepRecord `json:"steps,omitempty"`
	DoneBy string                `json:"done_by,omitempty"`
	DoneAt time.Time             `json:"done_at,omitzero"`
}

// Approval is one person's approval.
type Approval struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// StepRecord is a step's outcome as recorded in the proposal.
type StepRecord struct {
	Outcome Outcome   `json:"outcome"`
	At      time.Time `json:"at"`
	By      string    `json:"by"` // who ran it
	Detail  string    `json:"detail,omitempty"`
}

// NewProposal returns an open proposal with a fresh random id, approved by
// its proposer.
func NewProposal(from, to xregion.Region, by, reason string, force bool, at time.Time) (Proposal, error) {
	if err := from.Validate(); err != nil {
		return Proposal{}, fmt.Errorf("from: %w", err)
	}
	if err := to.Validate(); err != nil {
		return Proposal{}, fmt.Errorf("to: %w", err)
	}
	if from == to {
		return Proposal{}, invalid("proposal", "from and to are both %q; fail over to another region", from)
	}
	name, err := checkName(by)
	if err != nil {
		return Proposal{}, err
	}
	if len(reason) > MaxReasonLen {
		return Proposal{}, invalid("reason", "%d bytes; at most %d", len(reason), MaxReasonLen)
	}
	var id [idBytes]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Proposal{}, err
	}
	at = at.UTC()
	return Proposal{
		ID: hex.EncodeToString(id[:]), From: from, To: to, By: name, Reason: reason, Force: force,
		ProposedAt: at, Approvals: []Approval{{By: name, At: at}}, State: StateOpen,
	}, nil
}

// CheckID refuses a string that is not a proposal id.
func CheckID(id string) error {
	if len(id) != 2*idBytes || strings.Trim(id, "0123456789abcdef") != "" {
		return invalid("proposal id", "%q; an id is %d lowercase hex digits, as propose and list print it", id, 2*idBytes)
	}
	return nil
}

// Approvers returns the names of those who approved, the proposer first.
func (p *Proposal) Approvers() []string {
	names := make([]string, len(p.Approvals))
	for i, a := range p.Approvals {
		names[i] = a.By
	}
	return names
}

// HasApproved reports whether the person named by has approved.
func (p *Proposal) HasApproved(by string) bool {
	name := strings.TrimSpace(by)
	return slices.ContainsFunc(p.Approvals, func(a Approval) bool { return strings.EqualFold(a.By, name) })
}

// Approve records by's approval and, once the proposal has need distinct
// approvals, moves it to StateApproved. It refuses the proposer
// (ErrOwnProposal), a second approval by the same person
// (ErrApprovedTwice), and a proposal that is not open (ErrApproved,
// ErrDone).
func (p *Proposal) Approve(by string, at time.Time, need int) error {
	name, err := checkName(by)
	if err != nil {
		return err
	}
	switch p.State {
	case StateDone:
		return fmt.Errorf("proposal %s: %w at %s by %s", p.ID, ErrDone, p.DoneAt.Format(time.RFC3339), p.DoneBy)
	case StateApproved:
		return fmt.Errorf("%w: %s, by %s", ErrApproved, p.ID, strings.Join(p.Approvers(), ", "))
	}
	if strings.EqualFold(p.By, name) {
		return fmt.Errorf("proposal %s: %w: %s proposed it and counts as its first approval; %s",
			p.ID, ErrOwnProposal, p.By, p.stillNeeded(need))
	}
	if i := slices.IndexFunc(p.Approvals, func(a Approval) bool { return strings.EqualFold(a.By, name) }); i >= 0 {
		a := p.Approvals[i]
		return fmt.Errorf("proposal %s: %s: %w, at %s; %s", p.ID, a.By, ErrApprovedTwice, a.At.Format(time.RFC3339), p.stillNeeded(need))
	}
	p.Approvals = append(p.Approvals, Approval{By: name, At: at.UTC()})
	if p.Quorum(need) {
		p.State = StateApproved
	}
	return nil
}

// Quorum reports whether the proposal has need distinct approvals.
func (p *Proposal) Quorum(need int) bool { return len(p.Approvals) >= need }

// Missing is how many more approvals the proposal needs.
func (p *Proposal) Missing(need int) int { return max(need-len(p.Approvals), 0) }

func (p *Proposal) stillNeeded(need int) string {
	switch n := p.Missing(need); n {
	case 0:
		return "it has the approvals it needs"
	case 1:
		return "it needs 1 more approval, from another person"
	default:
		return fmt.Sprintf("it needs %d more approvals, from other people", n)
	}
}

// Pending returns the names of the steps recorded with an outcome other
// than done or skipped, in step order.
func (p *Proposal) Pending() []string {
	var out []string
	for _, s := range stepNames {
		if r, ok := p.Steps[s]; ok && !r.Outcome.finished() {
			out = append(out, s)
		}
	}
	return out
}

// finishedStep reports whether step is recorded as done or skipped.
func (p *Proposal) finishedStep(step string) (StepRecord, bool) {
	r, ok := p.Steps[step]
	return r, ok && r.Outcome.finished()
}

func checkName(by string) (string, error) {
	name := strings.TrimSpace(by)
	if name == "" || len(name) > MaxNameLen {
		return "", invalid("name", "%q; want the name of a person, 1 to %d bytes", by, MaxNameLen)
	}
	return name, nil
}

func invalid(what, format string, args ...any) error {
	return &xregion.InvalidError{What: what, Reason: fmt.Sprintf(format, args...)}
}
