package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/bridge"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
	"github.com/xregion/xregion/partition"
	"github.com/xregion/xregion/replicate"
)

// Outcome is how a step ended.
type Outcome string

// The outcomes of a step.
const (
	OutcomeDone    Outcome = "done"
	OutcomeSkipped Outcome = "skipped"  // nothing to do for this deployment
	OutcomeNotDone Outcome = "NOT DONE" // the rest went on; the operator has something to do
	OutcomeFailed  Outcome = "FAILED"   // the run stopped here
)

func (o Outcome) finished() bool { return o == OutcomeDone || o == OutcomeSkipped }

// The steps' names, in the order they run.
const (
	StepFence   = "fence"
	StepStaged  = "resolve staged writes"
	StepHomes   = "move homes"
	StepBridges = "translate bridge groups"
	StepDone    = "mark done"
)

var stepNames = []string{StepFence, StepStaged, StepHomes, StepBridges, StepDone}

// ErrIncomplete is returned by Failover.Run when a step failed or was not
// done; the output says which, and what to do.
var ErrIncomplete = errors.New("failover incomplete")

// Failover runs the steps of an approved proposal (see the package doc).
// Fill in the fields and call Run once; it is not safe for concurrent use.
type Failover struct {
	Config    config.File
	Proposals *Proposals     // where the proposal is stored: each step's outcome is saved there
	To        *config.Opened // the target region, opened (config.File.Open)
	// Others are the other surviving regions, opened, when the config
	// names three or more: the staged-writes step has them catch up with
	// To on the old home's writes (replicate.CatchUp).
	Others []*config.Opened
	By     string            // who runs the steps, for the record
	Probe  Prober            // probes the old home (the fence) and the bridges' source clusters
	Out    io.Writer         // where the steps are printed as they complete
	Wall   xregion.WallClock // times the steps and stamps the records; default the system clock
	// Bridge builds the bridge whose FailoverGroup translates a group;
	// default bridge.New with the probe timeout as request timeout.
	Bridge func(b config.Bridge, from, to []string) (*bridge.Bridge, error)
}

// Run carries out p's steps in order, printing each as it completes and
// recording its outcome in p (saved over base, under the lease the caller
// holds). Steps recorded done by an earlier run are not run again. It
// returns nil when every step is done, an error wrapping ErrIncomplete
// when one failed (the run stopped there) or was not done (the run went
// on), and other errors when the proposal could not be saved.
func (f *Failover) Run(ctx context.Context, p *Proposal, base xregion.Version) error {
	if f.Wall == nil {
		f.Wall = xregion.SystemClock{}
	}
	if p.State != StateApproved {
		return fmt.Errorf("proposal %s is %s, not approved: its steps do not run", p.ID, p.State)
	}
	if p.Steps == nil {
		p.Steps = map[string]StepRecord{}
	}
	type step struct {
		name string
		run  func(ctx context.Context, p *Proposal) (Outcome, string, []string, error)
	}
	steps := []step{
		{StepFence, f.fence},
		{StepStaged, f.staged},
		{StepHomes, f.homes},
		{StepBridges, f.bridges},
	}
	fmt.Fprintf(f.Out, "failover %s: %s to %s, approved by %s\n", p.ID, p.From, p.To, strings.Join(p.Approvers(), ", "))
	var notDone []string
	for i, s := range steps {
		if rec, ok := p.finishedStep(s.name); ok && (s.name != StepFence || f.fenceSettled(p)) {
			f.line(i, s.name, rec.Outcome, -1, fmt.Sprintf("earlier, at %s by %s: %s", rec.At.Format(time.RFC3339), rec.By, rec.Detail), nil)
			continue
		}
		began := f.Wall.Now()
		outcome, detail, notes, err := s.run(ctx, p)
		if err != nil {
			if ctx.Err() != nil {
				return err // interrupted: nothing to record, approve again resumes
			}
			outcome, detail = OutcomeFailed, oneLine(err)
		}
		took := f.Wall.Now().Sub(began)
		f.line(i, s.name, outcome, took, detail, notes)
		p.Steps[s.name] = StepRecord{Outcome: outcome, At: f.Wall.Now().UTC(), By: f.By, Detail: detail}
		if base, err = f.Proposals.Save(ctx, *p, base); err != nil {
			return err
		}
		switch outcome {
		case OutcomeFailed:
			fmt.Fprintf(f.Out, "stopped: nothing after step %d ran; the proposal stays approved: run approve again to go on from there\n", i+1)
			return fmt.Errorf("failover %s: step %s: %w", p.ID, s.name, ErrIncomplete)
		case OutcomeNotDone:
			notDone = append(notDone, s.name)
		}
	}
	began := f.Wall.Now()
	i := len(steps)
	if len(notDone) > 0 {
		detail := fmt.Sprintf("the proposal stays approved: %s not done; run approve again to retry only that", strings.Join(notDone, ", "))
		f.line(i, StepDone, OutcomeNotDone, f.Wall.Now().Sub(began), detail, nil)
		return fmt.Errorf("failover %s: %s: %w", p.ID, strings.Join(notDone, ", "), ErrIncomplete)
	}
	now := f.Wall.Now().UTC()
	p.State, p.DoneBy, p.DoneAt = StateDone, f.By, now
	p.Steps[StepDone] = StepRecord{Outcome: OutcomeDone, At: now, By: f.By}
	if _, err := f.Proposals.Save(ctx, *p, base); err != nil {
		return err
	}
	f.line(i, StepDone, OutcomeDone, f.Wall.Now().Sub(began), fmt.Sprintf("proposal %s is done, by %s at %s", p.ID, f.By, now.Format(time.RFC3339)), nil)
	return nil
}

// fenceSettled reports whether the steps the fence guards are recorded
// done, so a fence recorded done need not be checked again.
func (f *Failover) fenceSettled(p *Proposal) bool {
	_, staged := p.finishedStep(StepStaged)
	_, homes := p.finishedStep(StepHomes)
	return staged && homes
}

// line prints a step; took is negative for a step done by an earlier run.
func (f *Failover) line(i int, name string, o Outcome, took time.Duration, detail string, notes []string) {
	d := "-"
	if took >= 0 {
		d = round(took).String()
	}
	fmt.Fprintf(f.Out, "  %d/%d %-24s %-8s %8s  %s\n", i+1, len(stepNames), name, o, d, detail)
	for _, n := range notes {
		fmt.Fprintf(f.Out, "        %s\n", n)
	}
}

func (f *Failover) fence(ctx context.Context, p *Proposal) (Outcome, string, []string, error) {
	from, err := f.Config.Region(p.From)
	if err != nil {
		return "", "", nil, err
	}
	reach, err := f.Probe.Region(ctx, from)
	if err != nil {
		return "", "", nil, err
	}
	switch {
	case !reach.Answers():
		return OutcomeDone, reach.String(), nil, nil
	case p.Force:
		return OutcomeDone, reach.String() + ", but the proposal was made with --force", nil, nil
	}
	return OutcomeFailed, reach.String(), []string{
		fmt.Sprintf("%s may still be taking writes under its old epochs: moving its homes now would split the brain.", p.From),
		"Check that it is gone (or stop it), then run approve again; or propose again with --force if it cannot write.",
	}, nil
}

func (f *Failover) staged(ctx context.Context, p *Proposal) (Outcome, string, []string, error) {
	st, ok := f.To.Store.(xregion.Stager)
	if !ok {
		return OutcomeSkipped, fmt.Sprintf("%s's store does not stage writes", p.To), nil, nil
	}
	n, err := st.Staged(ctx)
	if err != nil {
		return "", "", nil, fmt.Errorf("count staged writes: %w", err)
	}
	res, err := st.ApplyStaged(ctx)
	if err != nil {
		return "", "", nil, fmt.Errorf("apply staged writes: %w", err)
	}
	detail := fmt.Sprintf("%d staged writes resolved in %s: %d applied, %d already held, %d lost to conflicts (in %s's lost-update ledger)",
		res.Applied+res.Unchanged+res.Conflicts(), p.To, res.Applied, res.Unchanged, res.Conflicts(), p.To)
	if n == 0 && res.Applied+res.Unchanged+res.Conflicts() == 0 {
		detail = fmt.Sprintf("no staged writes waited in %s", p.To)
	}
	if len(f.Others) == 0 {
		return OutcomeDone, detail, nil, nil
	}
	notes, err := f.catchUp(ctx, p)
	if err != nil {
		return "", "", nil, err
	}
	return OutcomeDone, detail + "; the survivors caught up on " + string(p.From) + "'s writes", notes, nil
}

// catchUp has the survivors (To and Others) bring each other every write
// of the old home that any of them holds, and notes what each lacked and
// whether another survivor than To held the most.
func (f *Failover) catchUp(ctx context.Context, p *Proposal) ([]string, error) {
	survivors := []xregion.Store{f.To.Store}
	for _, o := range f.Others {
		survivors = append(survivors, o.Store)
	}
	rep, err := replicate.CatchUp(ctx, p.From, survivors)
	if err != nil {
		return nil, fmt.Errorf("catch up the survivors: %w", err)
	}
	var notes []string
	for _, s := range rep.Survivors {
		notes = append(notes, fmt.Sprintf("%s: lacked %d of %s's writes (RPO %s), received %d, lacks %d",
			s.Region, s.LackedBefore, p.From, s.RPOBefore.Round(time.Millisecond), s.Received, s.LackedAfter))
	}
	if rep.MostComplete != p.To {
		notes = append(notes, fmt.Sprintf("%s, not %s, held the most of %s's writes; they hold the same now", rep.MostComplete, p.To, p.From))
	}
	return notes, nil
}

func (f *Failover) homes(ctx context.Context, p *Proposal) (Outcome, string, []string, error) {
	r := f.To.Router
	if r == nil {
		return OutcomeSkipped, "no single-writer tables in the config", nil, nil
	}
	if err := r.Refresh(ctx); err != nil {
		return "", "", nil, err
	}
	var ps []int
	for _, o := range r.Owners() {
		if o.Home == p.From {
			ps = append(ps, o.Partition)
		}
	}
	if len(ps) == 0 {
		return OutcomeDone, fmt.Sprintf("no partition has its home in %s, as %s's map knows it", p.From, p.To), nil, nil
	}
	approvals := make([]partition.Approval, len(p.Approvals))
	for i, a := range p.Approvals {
		approvals[i] = partition.Approval{By: a.By}
	}
	grants, err := r.Failover(ctx, ps, approvals...)
	if err != nil {
		return "", "", nil, err
	}
	return OutcomeDone, fmt.Sprintf("%d partitions moved from %s to %s: %s", len(grants), p.From, p.To, epochs(grants)), nil, nil
}

// epochs describes grants as partition ranges by epoch: "0-3 at epoch 2".
func epochs(grants []partition.Ownership) string {
	byEpoch := map[uint64][]int{}
	var es []uint64
	for _, g := range grants {
		if _, ok := byEpoch[g.Epoch]; !ok {
			es = append(es, g.Epoch)
		}
		byEpoch[g.Epoch] = append(byEpoch[g.Epoch], g.Partition)
	}
	slices.Sort(es)
	var parts []string
	for _, e := range es {
		parts = append(parts, fmt.Sprintf("%s at epoch %d", ranges(byEpoch[e]), e))
	}
	return strings.Join(parts, "; ")
}

// ranges writes sorted partitions as "0-3,7".
func ranges(ps []int) string {
	slices.Sort(ps)
	var b strings.Builder
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1] == ps[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if i == j {
			fmt.Fprintf(&b, "%d", ps[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", ps[i], ps[j])
		}
		i = j + 1
	}
	return b.String()
}

func (f *Failover) bridges(ctx context.Context, p *Proposal) (Outcome, string, []string, error) {
	var bs []config.Bridge
	for _, b := range f.Config.Bridges {
		if b.From == p.From && b.To == p.To {
			bs = append(bs, b)
		}
	}
	if len(bs) == 0 {
		return OutcomeSkipped, fmt.Sprintf("no bridge from %s to %s in the config", p.From, p.To), nil, nil
	}
	from, err := f.Config.Region(p.From)
	if err != nil {
		return "", "", nil, err
	}
	to, err := f.Config.Region(p.To)
	if err != nil {
		return "", "", nil, err
	}
	var notes []string
	done, total := 0, 0
	var groups []string
	for _, b := range bs {
		if len(b.ConsumerGroups) == 0 {
			notes = append(notes, fmt.Sprintf("bridge %s names no consumer_groups: nothing to translate", b.Group))
			continue
		}
		total += len(b.ConsumerGroups) * len(b.Topics)
		if err := f.Probe.Kafka(ctx, from.Kafka); err != nil {
			if ctx.Err() != nil {
				return "", "", nil, ctx.Err()
			}
			for _, g := range b.ConsumerGroups {
				for _, t := range b.Topics {
					notes = append(notes, fmt.Sprintf("group %s topic %s: NOT DONE: %s's Kafka (%s): %v", g, t, p.From, strings.Join(from.Kafka, ","), err))
				}
				groups = append(groups, g)
			}
			continue
		}
		br, err := f.newBridge(b, from.Kafka, to.Kafka)
		if err != nil {
			return "", "", nil, err
		}
		for _, g := range b.ConsumerGroups {
			for _, t := range b.Topics {
				offsets, err := br.FailoverGroup(ctx, g, t)
				if err != nil {
					if ctx.Err() != nil {
						return "", "", nil, ctx.Err()
					}
					notes = append(notes, fmt.Sprintf("group %s topic %s: NOT DONE: %s", g, t, oneLine(err)))
					groups = append(groups, g)
					continue
				}
				done++
				notes = append(notes, fmt.Sprintf("group %s topic %s: done: %s", g, t, describeOffsets(offsets)))
			}
		}
	}
	if done == total {
		return OutcomeDone, fmt.Sprintf("%d group translations into %s's cluster", done, p.To), notes, nil
	}
	groups = slices.Compact(groups)
	notes = append(notes,
		fmt.Sprintf("what to do: FailoverGroup reads each group's committed offsets in %s's cluster, which must answer.", p.From),
		fmt.Sprintf("  Until then, consumers of %s started in %s begin at their offset reset policy: keep them stopped if that is wrong.", strings.Join(groups, ", "), p.To),
		fmt.Sprintf("  When %s's cluster answers, run approve again: it retries only this step.", p.From),
		fmt.Sprintf("  If it is lost for good, take each group's last offsets in %s from your own records and translate them", p.From),
		fmt.Sprintf("  with bridge.Translate, which reads only %s's cluster, then commit them there for the group.", p.To))
	return OutcomeNotDone, fmt.Sprintf("%d of %d group translations done", done, total), notes, nil
}

func (f *Failover) newBridge(b config.Bridge, from, to []string) (*bridge.Bridge, error) {
	if f.Bridge != nil {
		return f.Bridge(b, from, to)
	}
	return bridge.New(from, to, b.Group, b.Topics, bridge.WithRequestTimeout(f.Probe.timeout()))
}

func describeOffsets(offsets map[int]int64) string {
	if len(offsets) == 0 {
		return "nothing committed in the source: the group's reset policy applies in the target too"
	}
	ps := make([]int, 0, len(offsets))
	for p := range offsets {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("partition %d at %d", p, offsets[p])
	}
	return "committed " + strings.Join(parts, ", ")
}
