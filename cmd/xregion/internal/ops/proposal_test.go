package ops

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

var t0 = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func TestNewProposal(t *testing.T) {
	p, err := NewProposal("a", "b", " alice ", "a lost power", false, t0)
	require.NoError(t, err)
	require.NoError(t, CheckID(p.ID))
	require.Equal(t, "alice", p.By)
	require.Equal(t, StateOpen, p.State)
	require.Equal(t, []string{"alice"}, p.Approvers())

	q, err := NewProposal("a", "b", "alice", "", false, t0)
	require.NoError(t, err)
	require.NotEqual(t, p.ID, q.ID)

	for name, tc := range map[string]struct {
		from, to xregion.Region
		by       string
		reason   string
	}{
		"same region": {"a", "a", "alice", ""},
		"bad region":  {"A B", "b", "alice", ""},
		"no name":     {"a", "b", "  ", ""},
		"long name":   {"a", "b", string(make([]byte, MaxNameLen+1)), ""},
		"long reason": {"a", "b", "alice", string(make([]byte, MaxReasonLen+1))},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewProposal(tc.from, tc.to, tc.by, tc.reason, false, t0)
			require.ErrorIs(t, err, xregion.ErrInvalid)
		})
	}
}

func TestCheckID(t *testing.T) {
	for id, ok := range map[string]bool{"0123abcd": true, "0123ABCD": false, "0123abc": false, "0123abcde": false, "0123abcg": false, "": false} {
		require.Equal(t, ok, CheckID(id) == nil, id)
	}
}

func TestProposal_Approve(t *testing.T) {
	type step struct {
		by      string
		wantErr error // nil: accepted
		state   State
	}
	for _, tc := range []struct {
		name  string
		need  int
		steps []step
	}{
		{"two people", 2, []step{
			{"alice", ErrOwnProposal, StateOpen},
			{" ALICE", ErrOwnProposal, StateOpen},
			{"bob", nil, StateApproved},
		}},
		{"three people", 3, []step{
			{"bob", nil, StateOpen},
			{"Bob ", ErrApprovedTwice, StateOpen},
			{"carol", nil, StateApproved},
		}},
		{"approved already", 2, []step{
			{"bob", nil, StateApproved},
			{"carol", ErrApproved, StateApproved},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewProposal("a", "b", "alice", "", false, t0)
			require.NoError(t, err)
			for _, s := range tc.steps {
				n := len(p.Approvals)
				err := p.Approve(s.by, t0.Add(time.Minute), tc.need)
				switch {
				case s.wantErr == nil:
					require.NoError(t, err, s.by)
					require.Len(t, p.Approvals, n+1)
				default:
					require.ErrorIs(t, err, s.wantErr, s.by)
					require.Len(t, p.Approvals, n)
				}
				require.Equal(t, s.state, p.State, s.by)
			}
		})
	}
}

func TestProposal_ApproveDone(t *testing.T) {
	p, err := NewProposal("a", "b", "alice", "", false, t0)
	require.NoError(t, err)
	p.State, p.DoneBy, p.DoneAt = StateDone, "bob", t0
	require.ErrorIs(t, p.Approve("carol", t0, 2), ErrDone)
}

func TestProposal_Pending(t *testing.T) {
	p := Proposal{Steps: map[string]StepRecord{
		StepFence:   {Outcome: OutcomeDone},
		StepStaged:  {Outcome: OutcomeSkipped},
		StepBridges: {Outcome: OutcomeNotDone},
		StepHomes:   {Outcome: OutcomeFailed},
	}}
	require.Equal(t, []string{StepHomes, StepBridges}, p.Pending())
}

// The stored form is JSON an operator can read with psql; it must keep
// its field names.
func TestProposal_JSON(t *testing.T) {
	p := Proposal{ID: "0123abcd", From: "a", To: "b", By: "alice", ProposedAt: t0,
		Approvals: []Approval{{By: "alice", At: t0}}, State: StateOpen}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"0123abcd","from":"a","to":"b","by":"alice","proposed_at":"2026-12-04T09:00:00Z",
		"approvals":[{"by":"alice","at":"2026-12-04T09:00:00Z"}],"state":"open"}`, string(b))
	var q Proposal
	require.NoError(t, json.Unmarshal(b, &q))
	require.Equal(t, p, q)
}

func TestRanges(t *testing.T) {
	for _, tc := range []struct {
		ps   []int
		want string
	}{
		{[]int{0}, "0"},
		{[]int{3, 1, 2, 0}, "0-3"},
		{[]int{0, 1, 3, 5, 6, 7}, "0-1,3,5-7"},
	} {
		require.Equal(t, tc.want, ranges(tc.ps))
	}
}
