package partition

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// Approval is one person's approval of a failover. Failover records who
// approved in the ownership record, so the map itself says who moved a
// partition and why it was allowed. Two approvals are by the same person
// when their names are equal ignoring surrounding space and case ("alice"
// and " Alice " are one person).
type Approval struct {
	By string // who approved: a person, not a system; 1 to 128 bytes
}

// Bootstrap gives every partition that has no home yet the home assign
// names, at epoch 1, and returns the grants it made. Partitions that have a
// home are left alone, so running it again, or in several regions, does not
// move anything that was assigned.
//
// HAZARD: run it once, from one place. Two regions that bootstrap the same
// partition at the same time, before either sees the other's grant, make
// two grants of epoch 1; the one with the higher record version wins
// everywhere and the writes the other home made under epoch 1 are fenced.
func (r *Router) Bootstrap(ctx context.Context, assign func(partition int) xregion.Region) ([]Ownership, error) {
	if assign == nil {
		return nil, invalid("bootstrap", "nil assignment; pass a function from partition to home region")
	}
	if err := r.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	var grants []Ownership
	var bases []xregion.Version
	for p := range r.parts.N() {
		if cur, _ := r.current(p); !cur.IsZero() {
			continue
		}
		home := assign(p)
		if err := home.Validate(); err != nil {
			return nil, fmt.Errorf("bootstrap partition %d: %w", p, err)
		}
		grants = append(grants, Ownership{Partition: p, Home: home, Epoch: 1, How: MoveBootstrap})
		bases = append(bases, xregion.Version{})
	}
	grants, err := r.grant(ctx, grants, bases)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	return grants, nil
}

// Handover moves the given partitions from this region, their live home, to
// the region of store to, without losing a write (RPO 0), and returns the
// new grants. It must run in the old home, with the new home's store:
//
//  1. It writes the new grants (epoch + 1, home to) in this region's store.
//     From that moment this region stops: Stamp refuses the partitions'
//     writes, and the Guards fence any that were stamped before.
//  2. It waits, polling every WithPollInterval, until to has applied this
//     region's changelog through the new grants.
//
// The grants are the barrier: they sit in this region's changelog after
// every write this region made under the old epoch, and changelogs are
// applied in order, so the new home learns that it owns the partitions only
// once it holds all of those writes, and every other region receives those
// writes before it learns of the move, so none of them is fenced. Nothing
// needs to be copied by Handover itself: the replicator that ships this
// region's changelog to to carries everything, the grants included.
//
// If ctx ends while waiting, ownership has moved all the same and the new
// home takes over when it catches up; Handover returns the grants with the
// context's error. Errors before anything is written: *NotHomeError when
// this region is not the home of every partition, *StaleEpochError when its
// map is behind, ErrMoveLost when a concurrent move won.
func (r *Router) Handover(ctx context.Context, partitions []int, to xregion.Store) ([]Ownership, error) {
	ps, err := r.checkPartitions(partitions)
	if err != nil {
		return nil, fmt.Errorf("handover: %w", err)
	}
	if to == nil {
		return nil, invalid("handover", "nil store for the new home; pass the new home region's xregion.Store")
	}
	dest := to.Region()
	if dest == r.region {
		return nil, invalid("handover", "to %s, which is this region; hand over to another region", dest)
	}
	if err := r.refresh(ctx, ps); err != nil {
		return nil, fmt.Errorf("handover: %w", err)
	}
	grants := make([]Ownership, 0, len(ps))
	bases := make([]xregion.Version, 0, len(ps))
	for _, p := range ps {
		cur, seen := r.current(p)
		if cur.Home != r.region {
			return nil, fmt.Errorf("handover: %w", &NotHomeError{Partition: p, Region: r.region, Home: cur.Home, Epoch: cur.Epoch})
		}
		if seen > cur.Epoch {
			return nil, fmt.Errorf("handover: %w", &StaleEpochError{Partition: p, Current: seen, Got: cur.Epoch})
		}
		grants = append(grants, Ownership{Partition: p, Home: dest, Epoch: cur.Epoch + 1, How: MoveHandover, From: r.region})
		bases = append(bases, cur.Version)
	}
	// The new home's watermark before the grants exist bounds the scan for
	// their position below.
	start, err := to.Watermark(ctx, r.region)
	if err != nil {
		return nil, fmt.Errorf("handover: read the watermark of %s: %w", dest, err)
	}
	grants, err = r.grant(ctx, grants, bases)
	if err != nil {
		return nil, fmt.Errorf("handover: %w", err)
	}
	r.cfg.logger.Info("partition handover", "from", r.region, "to", dest, "partitions", ps, "epoch", grants[0].Epoch)
	if err := r.waitApplied(ctx, to, start, grants); err != nil {
		return grants, fmt.Errorf("handover to %s: ownership has moved, but: %w", dest, err)
	}
	return grants, nil
}

// Failover makes this region the home of the given partitions at once,
// because their home is gone, and returns the grants it made. Partitions
// already homed here are left alone. It requires the number of distinct
// approvals set with WithApprovals (default two people) and refuses with an
// *ApprovalError otherwise.
//
// If the store can stage writes (xregion.Stager), the staged writes of the
// old home are applied first: a synchronous replicator acknowledged them, so
// they are the old home's last writes and belong before the move, not in
// the quarantine.
//
// The old home's writes that reach a region after it learned of the
// failover are fenced there: quarantined in the ledger, never applied (see
// Router.Quarantine and Router.Reassert for failback).
//
// HAZARD: a failover during a network partition. The old home may be alive
// behind the partition, still accepting writes under the old epoch: a split
// brain, which is what the quarantine is for. Worse, two operators who fail
// over the same partition in two regions that cannot see each other both
// make a grant of the same epoch; when the partition heals, the grant with
// the higher record version wins everywhere, and every write the other
// region made under it is fenced. The two-person rule exists to make sure
// someone has checked, out of band, that the old home is really gone and
// that nobody else is failing it over.
func (r *Router) Failover(ctx context.Context, partitions []int, approvals ...Approval) ([]Ownership, error) {
	ps, err := r.checkPartitions(partitions)
	if err != nil {
		return nil, fmt.Errorf("failover: %w", err)
	}
	by, err := r.checkApprovals(approvals)
	if err != nil {
		return nil, fmt.Errorf("failover: %w", err)
	}
	if st, ok := r.store.(xregion.Stager); ok {
		if _, err := st.ApplyStaged(ctx); err != nil {
			return nil, fmt.Errorf("failover: apply staged writes: %w", err)
		}
	}
	if err := r.refresh(ctx, ps); err != nil {
		return nil, fmt.Errorf("failover: %w", err)
	}
	var grants []Ownership
	var bases []xregion.Version
	for _, p := range ps {
		cur, seen := r.current(p)
		switch {
		case cur.IsZero():
			return nil, invalid(fmt.Sprintf("failover of partition %d", p), "it has no home yet; Bootstrap the map first")
		case cur.Home == r.region && seen <= cur.Epoch:
			continue
		}
		grants = append(grants, Ownership{
			Partition: p, Home: r.region, Epoch: max(cur.Epoch, seen) + 1,
			How: MoveFailover, From: cur.Home, By: by,
		})
		bases = append(bases, cur.Version)
	}
	grants, err = r.grant(ctx, grants, bases)
	if err != nil {
		return nil, fmt.Errorf("failover: %w", err)
	}
	if len(grants) > 0 {
		r.cfg.logger.Warn("partition failover", "to", r.region, "from", grants[0].From, "partitions", ps, "approved_by", by)
	}
	return grants, nil
}

// checkPartitions returns the partitions sorted and without repeats, or
// says which one is out of range.
func (r *Router) checkPartitions(partitions []int) ([]int, error) {
	if len(partitions) == 0 {
		return nil, invalid("partitions", "none given")
	}
	ps := slices.Clone(partitions)
	slices.Sort(ps)
	ps = slices.Compact(ps)
	if ps[0] < 0 || ps[len(ps)-1] >= r.parts.N() {
		return nil, invalid("partitions", "want partitions 0 to %d, got %v", r.parts.N()-1, ps)
	}
	return ps, nil
}

// checkApprovals returns the distinct approvers, in the order given, each
// as first spelled.
func (r *Router) checkApprovals(approvals []Approval) ([]string, error) {
	var by []string
	for _, a := range approvals {
		name := strings.TrimSpace(a.By)
		if name == "" || len(name) > maxApproverLen {
			return nil, invalid("approval", "approver %q; want a name of 1 to %d bytes", a.By, maxApproverLen)
		}
		if !slices.ContainsFunc(by, func(b string) bool { return strings.EqualFold(b, name) }) {
			by = append(by, name)
		}
	}
	if len(by) < r.cfg.approvals {
		return nil, &ApprovalError{Need: r.cfg.approvals, Got: len(by)}
	}
	if len(by) > maxApprovals {
		return nil, invalid("approvals", "%d approvers; at most %d are recorded", len(by), maxApprovals)
	}
	return by, nil
}

// grant writes the grants in this region's store, in one batch, each on the
// record version it replaces (bases), and returns them as stored. It fails
// with ErrMoveLost if a grant did not win, which happens only when a later
// grant of the same partition, made elsewhere, got here first.
func (r *Router) grant(ctx context.Context, grants []Ownership, bases []xregion.Version) ([]Ownership, error) {
	if len(grants) == 0 {
		return nil, nil
	}
	b := xregion.Batch{Writes: make([]xregion.Write, len(grants))}
	for i := range grants {
		// The new record must be stamped after the one it replaces, which
		// may come from a region whose clock is ahead.
		v, err := r.clock.Stamp(r.region, bases[i])
		if err != nil {
			return nil, fmt.Errorf("stamp ownership of partition %d: %w", grants[i].Partition, err)
		}
		grants[i].Version = v
		b.Writes[i] = xregion.Write{Table: r.cfg.table, Record: xregion.Record{
			Key:     OwnershipKey(grants[i].Partition),
			Value:   encodeOwnership(grants[i], r.parts.N()),
			Version: grants[i].Version,
			Base:    bases[i],
			Epoch:   grants[i].Epoch,
		}}
	}
	if _, err := r.store.Apply(ctx, b); err != nil {
		return nil, fmt.Errorf("write ownership: %w", err)
	}
	// The table's resolver observed what it stored, but another process may
	// have declared the table with its own Router: read the records back.
	var lost []string
	for _, g := range grants {
		if err := r.refresh(ctx, []int{g.Partition}); err != nil {
			return nil, err
		}
		if cur, _ := r.current(g.Partition); cur.Version != g.Version {
			lost = append(lost, cur.String())
		}
	}
	if len(lost) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrMoveLost, strings.Join(lost, "; "))
	}
	return grants, nil
}

// waitApplied waits until to has applied this region's changelog through
// the grants' changes. start is to's watermark for this region from before
// the grants were written.
func (r *Router) waitApplied(ctx context.Context, to xregion.Store, start xregion.Position, grants []Ownership) error {
	pos, err := r.findGrants(ctx, start, grants)
	if err != nil {
		return err
	}
	for {
		wm, err := to.Watermark(ctx, r.region)
		if err != nil {
			return fmt.Errorf("read the watermark of %s: %w", to.Region(), err)
		}
		if !wm.Less(pos) {
			return nil
		}
		if err := r.sleep(ctx); err != nil {
			return fmt.Errorf("wait for %s to apply %s's changelog through %s (it stands at %s): %w", to.Region(), r.region, pos, wm, err)
		}
	}
}

// findGrants returns the changelog position of the last of the grants,
// reading this region's own changes after start. A change becomes readable
// only once no open transaction can commit one before it, so it may take a
// few polls.
func (r *Router) findGrants(ctx context.Context, start xregion.Position, grants []Ownership) (xregion.Position, error) {
	want := make(map[string]xregion.Version, len(grants))
	for _, g := range grants {
		want[OwnershipKey(g.Partition)] = g.Version
	}
	var last xregion.Position
	after := start
	for len(want) > 0 {
		changes, err := r.store.Changes(ctx, xregion.ChangeQuery{After: after, Origin: r.region, Limit: 1000})
		if err != nil {
			return xregion.Position{}, fmt.Errorf("find the ownership change in the changelog: %w", err)
		}
		for _, c := range changes {
			if v, ok := want[c.Record.Key]; ok && c.Table == r.cfg.table && c.Record.Version == v {
				delete(want, c.Record.Key)
				last = c.Pos
			}
			after = c.Pos
		}
		if len(changes) == 0 && len(want) > 0 {
			if err := r.sleep(ctx); err != nil {
				return xregion.Position{}, fmt.Errorf("find the ownership change in the changelog: %w", err)
			}
		}
	}
	return last, nil
}

func (r *Router) sleep(ctx context.Context) error {
	return wait.Sleep(ctx, xregion.SystemClock{}, r.cfg.poll)
}
