package resync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/xregion/xregion"
)

// MaxListed is the most keys a plan lists per table and kind (keys moved
// each way, unshipped writes, conflicts); the counts are always whole.
const MaxListed = 1000

// Plan is what a resync of two regions will do: per table, the keys that
// differ and, for each, what each region receives. Diff computes it without
// changing anything (a dry run stops there); Apply carries it out.
type Plan struct {
	A       xregion.Region `json:"a"`      // the region coming back
	B       xregion.Region `json:"b"`      // the region that served in its place
	Source  string         `json:"source"` // how the differing keys were found: "changelogs" or "digests"
	Started time.Time      `json:"started"`
	Tables  []TablePlan    `json:"tables"`
	// Gaps are the changelog ranges each region lacks of the other's
	// writes; Apply moves the watermarks past them. Empty for a digest plan.
	Gaps []Gap `json:"gaps,omitempty"`

	sides  [2]side
	tables []Table
	cfg    config
}

// Gap is a range of one region's changelog that the other has not applied:
// the writes From made that To lacks.
type Gap struct {
	From    xregion.Region   `json:"from"`
	To      xregion.Region   `json:"to"`
	After   xregion.Position `json:"-"`
	Through xregion.Position `json:"-"`
	Changes int              `json:"changes"`
	// Hidden counts changes committed past Through that a transaction
	// still open kept from being read (Store.Changes): the plan does not
	// list them, and verification finds them if replication has not
	// carried them by then.
	Hidden int64 `json:"hidden,omitempty"`
	// Truncated says that retention removed changes of the gap (the peer
	// stayed dark past replicate.Retention.MaxUnconfirmed): Changes counts
	// only those left, the keys that differ were found by digests as well,
	// and Apply moves the watermark past what was removed, so that
	// replication can resume.
	Truncated bool `json:"truncated,omitempty"`
}

// TablePlan is one table's part of a Plan.
type TablePlan struct {
	Table    string `json:"table"`
	Compared int64  `json:"compared"` // records or changes looked at to find the keys that differ
	Differ   int    `json:"differ"`   // keys that differ
	ToA      Flow   `json:"to_a"`     // what region A receives
	ToB      Flow   `json:"to_b"`     // what region B receives
	// Unshipped are the writes a region made that the other lacked, found
	// in its changelog past the other's watermark for it: for A, the writes
	// it took but never shipped before it was cut off. Each is resolved
	// into the other region like any peer write.
	Unshipped      []Unshipped `json:"unshipped"`
	UnshippedCount int         `json:"unshipped_count"`
	// Conflicts are the lost-update ledger entries applying will add:
	// writes not kept (last-write-wins losers, fenced stale-epoch writes,
	// which are quarantined there) and in which region.
	Conflicts     []Conflict `json:"conflicts"`
	ConflictCount int        `json:"conflict_count"`
	// Unresolved are keys the resolvers alone would leave different: a
	// stale home's write that a region holds while the other holds an
	// older record or nothing (Apply has the home reassert them, see
	// Table.Reassert), or two records with one version and different
	// values. Verification names those that remain.
	Unresolved      []string `json:"unresolved,omitempty"`
	UnresolvedCount int      `json:"unresolved_count"`

	keys []string // every key that differs, for Apply
	// read holds the records the plan read of keys, both regions' (nil
	// where a region had none), for Run to apply without reading them
	// again; nil once they passed maxKeptBytes.
	read map[string][2]*xregion.Record
}

// maxKeptBytes bounds the key and value bytes of the records a plan keeps
// for Run (TablePlan.read): a larger difference is read again as it is
// applied.
const maxKeptBytes = 64 << 20

// Flow is what one region receives from the other.
type Flow struct {
	Records int      `json:"records"`
	Bytes   int64    `json:"bytes"` // key and value bytes
	Keys    []string `json:"keys"`  // the first MaxListed of them
}

func (f *Flow) add(r xregion.Record) {
	f.Records++
	f.Bytes += int64(len(r.Key) + len(r.Value))
	if len(f.Keys) < MaxListed {
		f.Keys = append(f.Keys, r.Key)
	}
}

// Unshipped is a write one region made that the other lacked.
type Unshipped struct {
	Region  xregion.Region  `json:"region"` // where it was made
	Key     string          `json:"key"`
	Version xregion.Version `json:"version"`
	Outcome Outcome         `json:"outcome"`
}

// Outcome is what becomes of an unshipped write.
type Outcome string

// The outcomes of an unshipped write.
const (
	OutcomeApplied    Outcome = "applied"    // the other region takes it
	OutcomeLost       Outcome = "lost"       // it loses a conflict and goes to a ledger
	OutcomeFenced     Outcome = "fenced"     // a stale home wrote it: it is quarantined in a ledger
	OutcomeHeld       Outcome = "held"       // the other region holds it, or a state that includes it
	OutcomeSuperseded Outcome = "superseded" // a later write of its region to its key carries it on
)

// Conflict is a ledger entry a plan foresees.
type Conflict struct {
	Key    string             `json:"key"`
	Lost   xregion.Version    `json:"lost"`
	Winner xregion.Version    `json:"winner"`
	Reason xregion.LossReason `json:"reason"`
	Region xregion.Region     `json:"region"` // whose ledger records it
}

// Diff compares regions a and b table by table and returns the Plan of a
// resync: what it would do, without changing anything. Unless
// WithDigestsOnly is given, the keys that differ are found in the
// changelogs: each region's writes past the other's watermark for it.
// Otherwise, digests of key ranges are compared, narrowing down to the keys
// that differ. Either way the records of those keys are read from both
// regions and resolved with each region's resolver, as its store will.
//
// Errors: ErrInvalid, ErrNoDigests, ErrUncoveredTable, and the stores'.
func Diff(ctx context.Context, a, b xregion.Store, tables []Table, opts ...Option) (*Plan, error) {
	cfg, ss, err := prepare(a, b, tables, opts)
	if err != nil {
		return nil, fmt.Errorf("resync plan: %w", err)
	}
	p := &Plan{A: a.Region(), B: b.Region(), Started: cfg.wall.Now(), sides: ss, tables: tables, cfg: cfg}
	pr := newProgress(cfg, "plan")
	var unshipped map[string][]xregion.Change
	truncated := false
	hidden := func() error { return nil }
	if cfg.digestsOnly {
		p.Source = "digests"
	} else {
		p.Source = "changelogs"
		if unshipped, err = p.readGaps(ctx); err != nil {
			return nil, fmt.Errorf("resync plan: %w", err)
		}
		hidden = p.countHidden(ctx)
		if truncated = slices.ContainsFunc(p.Gaps, func(g Gap) bool { return g.Truncated }); truncated {
			p.Source = "changelogs and digests" // the changelogs miss what retention removed
		}
	}
	for _, t := range tables {
		tp := TablePlan{Table: t.Name}
		if cfg.digestsOnly {
			tp.keys, tp.Compared, err = diffDigests(ctx, ss, t.Name, cfg, pr)
		} else {
			tp.keys, tp.Compared = gapKeys(unshipped[t.Name])
		}
		if truncated && err == nil {
			var keys []string
			var compared int64
			keys, compared, err = diffDigests(ctx, ss, t.Name, cfg, pr)
			tp.keys, tp.Compared = union(tp.keys, keys), tp.Compared+compared
		}
		if err != nil {
			return nil, fmt.Errorf("resync plan: table %s: %w", t.Name, err)
		}
		if err := p.foresee(ctx, t, &tp, unshipped[t.Name], pr); err != nil {
			hidden()
			return nil, fmt.Errorf("resync plan: table %s: %w", t.Name, err)
		}
		p.Tables = append(p.Tables, tp)
	}
	if err := hidden(); err != nil {
		return nil, fmt.Errorf("resync plan: %w", err)
	}
	return p, nil
}

// readGaps reads, both ways, the changes one region made past the other's
// watermark for it, and returns them by table. A change of a table the
// resync was not given fails the plan (ErrUncoveredTable).
func (p *Plan) readGaps(ctx context.Context) (map[string][]xregion.Change, error) {
	known := make(map[string]bool)
	for _, t := range p.tables {
		known[t.Name] = true
	}
	// Both ways at once: each reads one region's changelog.
	type read struct {
		gap     Gap
		changes []xregion.Change
	}
	reads, err := both(p.sides, func(from side) (read, error) {
		to := p.sides[0]
		if to.region() == from.region() {
			to = p.sides[1]
		}
		after, err := to.store.Watermark(ctx, from.region())
		if err != nil {
			return read{}, err
		}
		r := read{gap: Gap{From: from.region(), To: to.region(), After: after, Through: after}}
		for {
			cs, err := from.store.Changes(ctx, xregion.ChangeQuery{After: r.gap.Through, Origin: from.region(), Limit: p.cfg.batch})
			var te *xregion.TruncatedError
			if errors.As(err, &te) && r.gap.Through.Less(te.Through) {
				// Retention removed changes to lacks: read what is left.
				r.gap.Through, r.gap.Truncated = te.Through, true
				continue
			}
			if err != nil {
				return r, err
			}
			if len(cs) == 0 {
				break
			}
			for _, c := range cs {
				if !known[c.Table] {
					return r, fmt.Errorf("%w: %s's change %s of table %q, not among the tables given", ErrUncoveredTable, from.region(), c.Pos, c.Table)
				}
			}
			r.changes = append(r.changes, cs...)
			r.gap.Through, r.gap.Changes = cs[len(cs)-1].Pos, r.gap.Changes+len(cs)
			if len(cs) < p.cfg.batch {
				break // the rest, if any, is hidden: Backlog counts it
			}
		}
		return r, nil
	})
	if err != nil {
		return nil, err
	}
	byTable := make(map[string][]xregion.Change)
	for _, r := range reads {
		for _, c := range r.changes {
			byTable[c.Table] = append(byTable[c.Table], c)
		}
		p.Gaps = append(p.Gaps, r.gap)
	}
	return byTable, nil
}

// countHidden counts, in the background, the changes past each gap that
// open transactions kept from readGaps (Gap.Hidden), while the plan reads
// the records, and returns the wait for it, which leaves out the gaps
// with nothing in them.
func (p *Plan) countHidden(ctx context.Context) (wait func() error) {
	gaps := slices.Clone(p.Gaps) // the plan reads p.Gaps meanwhile
	counts := make([]int64, len(gaps))
	errs := make([]error, len(gaps))
	var wg sync.WaitGroup
	for i, g := range gaps {
		wg.Go(func() {
			from := p.sides[0]
			if from.region() != g.From {
				from = p.sides[1]
			}
			bl, err := from.store.Backlog(ctx, g.Through, g.From)
			if err != nil {
				errs[i] = fmt.Errorf("region %s: %w", g.From, err)
			}
			counts[i] = bl.Changes
		})
	}
	return func() error {
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		for i := range p.Gaps {
			p.Gaps[i].Hidden = counts[i]
		}
		p.Gaps = slices.DeleteFunc(p.Gaps, func(g Gap) bool { return g.Changes == 0 && g.Hidden == 0 && !g.Truncated })
		return nil
	}
}

// union returns the keys of two sorted lists, each once, sorted.
func union(a, b []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(slices.Concat(a, b))))
}

// gapKeys returns the keys the changes touch, each once, in order.
func gapKeys(cs []xregion.Change) ([]string, int64) {
	var keys []string
	seen := make(map[string]bool)
	for _, c := range cs {
		if !seen[c.Record.Key] {
			seen[c.Record.Key] = true
			keys = append(keys, c.Record.Key)
		}
	}
	slices.Sort(keys)
	return keys, int64(len(cs))
}

// foresee reads the records of the table's differing keys from both regions
// and resolves them as Apply will, filling in what moves, the conflicts,
// and the outcome of each unshipped write. Keys found equal are dropped.
func (p *Plan) foresee(ctx context.Context, t Table, tp *TablePlan, unshipped []xregion.Change, pr *progress) error {
	pr.start(t.Name, int64(len(tp.keys)))
	last := make(map[[2]string]xregion.Version) // (region, key) → its last unshipped write
	for _, c := range unshipped {
		last[[2]string{string(c.Origin()), c.Record.Key}] = c.Record.Version
	}
	outcome := make(map[[2]string]Outcome)
	var differ []string
	tp.read = make(map[string][2]*xregion.Record)
	kept := int64(0)
	for batch := range slices.Chunk(tp.keys, p.cfg.batch) {
		recs, err := readBoth(ctx, p.sides, t.Name, batch)
		if err != nil {
			return err
		}
		for _, key := range batch {
			ra, rb := recs[0][key], recs[1][key]
			if ra != nil && rb != nil && ra.Equal(*rb) {
				outcome[[2]string{string(p.A), key}], outcome[[2]string{string(p.B), key}] = OutcomeHeld, OutcomeHeld
				continue
			}
			differ = append(differ, key)
			if tp.read != nil {
				tp.read[key] = [2]*xregion.Record{ra, rb}
				for _, r := range []*xregion.Record{ra, rb} {
					if r != nil {
						kept += int64(len(r.Key) + len(r.Value))
					}
				}
				if kept > maxKeptBytes {
					tp.read = nil
				}
			}
			m, err := decide(t, p.A, p.B, ra, rb)
			if err != nil {
				return err
			}
			if m.toA != nil {
				tp.ToA.add(*m.toA)
			}
			if m.toB != nil {
				tp.ToB.add(*m.toB)
			}
			for _, c := range m.conflicts {
				tp.ConflictCount++
				if len(tp.Conflicts) < MaxListed {
					tp.Conflicts = append(tp.Conflicts, c)
				}
			}
			if m.apart {
				tp.UnresolvedCount++
				if len(tp.Unresolved) < MaxListed {
					tp.Unresolved = append(tp.Unresolved, key)
				}
			}
			for i, r := range [2]*xregion.Record{ra, rb} {
				region := p.sides[i].region()
				outcome[[2]string{string(region), key}] = m.outcome(region, r)
			}
		}
		pr.advance(int64(len(batch)), 0)
	}
	tp.keys, tp.Differ = differ, len(differ)
	tp.UnshippedCount = len(unshipped)
	for _, c := range unshipped[:min(len(unshipped), MaxListed)] {
		k := [2]string{string(c.Origin()), c.Record.Key}
		u := Unshipped{Region: c.Origin(), Key: c.Record.Key, Version: c.Record.Version, Outcome: OutcomeSuperseded}
		if last[k] == c.Record.Version {
			u.Outcome = outcome[k]
		}
		tp.Unshipped = append(tp.Unshipped, u)
	}
	return nil
}

// Hidden is how many changes open transactions kept from the plan (see
// Gap.Hidden). Apply leaves them to replication; Run's verification finds
// any that differ and repairs them from digests. Plan again for a complete
// list.
func (p *Plan) Hidden() int64 {
	var n int64
	for _, g := range p.Gaps {
		n += g.Hidden
	}
	return n
}

// readBoth reads the records of keys from both regions at once, by key.
func readBoth(ctx context.Context, ss [2]side, table string, keys []string) ([2]map[string]*xregion.Record, error) {
	var out [2]map[string]*xregion.Record
	recs, err := both(ss, func(s side) ([]xregion.Record, error) { return s.dig.Records(ctx, table, keys) })
	if err != nil {
		return out, err
	}
	for i := range out {
		out[i] = make(map[string]*xregion.Record, len(recs[i]))
		for j := range recs[i] {
			out[i][recs[i][j].Key] = &recs[i][j]
		}
	}
	return out, nil
}

// both runs f on the two regions at once.
func both[T any](ss [2]side, f func(side) (T, error)) ([2]T, error) {
	var out [2]T
	var errs [2]error
	done := make(chan struct{})
	go func() {
		defer close(done)
		out[1], errs[1] = f(ss[1])
	}()
	out[0], errs[0] = f(ss[0])
	<-done
	for i, err := range errs {
		if err != nil {
			return out, fmt.Errorf("region %s: %w", ss[i].region(), err)
		}
	}
	return out, nil
}
