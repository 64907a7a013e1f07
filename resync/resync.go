package resync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/xregion/xregion"
)

// Table names a table to resync and the Resolvers regions A and B declared
// it with (Store.DefineTable), so that the plan foresees what each store
// will do. Resolvers are per region: a region's resolver folds what it sees
// into that region's clock.
type Table struct {
	Name string
	A, B xregion.Resolver
	// Reassert, for a single-writer table, has each key's current home
	// write it again under its current epoch (partition.Router.Reassert, in
	// the home region). Apply calls it with the keys that still differ
	// after reconciling although neither resolver changes either region: a
	// stale home's write that a region accepted before it learned of the
	// failover, which fencing alone cannot take back. The reasserted
	// records are then reconciled like the rest. Nil leaves such keys
	// apart, listed as Unresolved.
	Reassert func(ctx context.Context, keys []string) error
}

// ErrNoDigests is returned when a store does not implement xregion.Digester.
var ErrNoDigests = errors.New("resync: store does not implement xregion.Digester")

// ErrUncoveredTable is wrapped by the error Plan returns when a changelog
// gap holds changes of a table the resync was not given: moving the
// watermark past them would skip them for good, so resync every table the
// regions replicate to each other together.
var ErrUncoveredTable = errors.New("resync: changelog gap holds a table not being resynced")

// ErrNotEqual is wrapped by *VerifyError.
var ErrNotEqual = errors.New("resync: regions differ")

// Defaults.
const (
	DefaultBatchSize = 2000 // keys reconciled, or changes read, per round trip
	DefaultFanout    = 1024 // ranges of the first digest pass
	// MaxBatchBytes bounds the key and value bytes of one batch Apply
	// sends; a batch of larger records is cut in several.
	MaxBatchBytes = 8 << 20
)

// Option configures Plan, Verify and Run.
type Option interface{ apply(*config) }

type option func(*config)

func (f option) apply(c *config) { f(c) }

type config struct {
	digestsOnly bool
	batch       int
	fanout      int
	progress    func(Progress)
	since       time.Time
	wall        xregion.WallClock
}

// WithDigestsOnly finds the keys that differ by comparing digests alone,
// without reading the changelogs: for regions whose changelogs no longer
// cover what the other lacks (a restored database), or to check that
// nothing outside them differs. Watermarks are not moved. A changelog that
// retention cut short (xregion.TruncatedError) needs no option: the plan
// finds it, adds digests, and moves the watermark past the cut.
func WithDigestsOnly() Option { return option(func(c *config) { c.digestsOnly = true }) }

// WithBatchSize sets how many keys are reconciled per round trip, 1 to
// xregion.MaxChangeLimit. Default DefaultBatchSize.
func WithBatchSize(n int) Option { return option(func(c *config) { c.batch = n }) }

// WithFanout sets how many ranges the first digest pass compares, 1 to
// xregion.MaxDigestRanges. More ranges cost more bytes when few keys differ
// and save passes when many do. Default DefaultFanout. store/pgstore keeps
// the digests of a power of two up to 1,024 ranges as it writes; others it
// computes from an index, which takes a pass over it.
func WithFanout(n int) Option { return option(func(c *config) { c.fanout = n }) }

// WithProgress calls f as the work goes on, from the calling goroutine.
func WithProgress(f func(Progress)) Option { return option(func(c *config) { c.progress = f }) }

// WithWallClock sets the clock that times the work and stamps the start of
// a verification. Default xregion.SystemClock{}.
func WithWallClock(w xregion.WallClock) Option { return option(func(c *config) { c.wall = w }) }

func newConfig(opts []Option) (config, error) {
	c := config{batch: DefaultBatchSize, fanout: DefaultFanout, wall: xregion.SystemClock{}}
	for _, o := range opts {
		o.apply(&c)
	}
	switch {
	case c.batch < 1 || c.batch > xregion.MaxChangeLimit:
		return c, &xregion.InvalidError{What: "resync batch size", Reason: fmt.Sprintf("%d; want 1 to %d", c.batch, xregion.MaxChangeLimit)}
	case c.fanout < 1 || c.fanout > xregion.MaxDigestRanges:
		return c, &xregion.InvalidError{What: "resync fanout", Reason: fmt.Sprintf("%d; want 1 to %d", c.fanout, xregion.MaxDigestRanges)}
	case c.wall == nil:
		return c, &xregion.InvalidError{What: "resync wall clock", Reason: "nil; leave WithWallClock out for the system clock"}
	}
	return c, nil
}

// Progress reports how far a long run has come.
type Progress struct {
	Phase string // "plan", "apply" or "verify"
	Table string
	// Keys compared (plan, verify) or reconciled (apply) so far, of Total
	// (zero when not known yet).
	Done, Total int64
	Moved       int64         // records moved so far, both ways
	Elapsed     time.Duration // since the work on Table began
	ETA         time.Duration // estimated time left on Table; zero if unknown
}

// side is one region of the pair.
type side struct {
	store xregion.Store
	dig   xregion.Digester
}

func (s side) region() xregion.Region { return s.store.Region() }

func sides(a, b xregion.Store) ([2]side, error) {
	var out [2]side
	for i, st := range []xregion.Store{a, b} {
		if st == nil {
			return out, &xregion.InvalidError{What: "resync store", Reason: "nil"}
		}
		d, ok := st.(xregion.Digester)
		if !ok {
			return out, fmt.Errorf("%w: region %s (%T)", ErrNoDigests, st.Region(), st)
		}
		out[i] = side{store: st, dig: d}
	}
	if out[0].region() == out[1].region() {
		return out, &xregion.InvalidError{What: "resync regions", Reason: fmt.Sprintf("both are %s; resync two regions", out[0].region())}
	}
	return out, nil
}

// prepare checks what Diff and Verify are given.
func prepare(a, b xregion.Store, tables []Table, opts []Option) (config, [2]side, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return cfg, [2]side{}, err
	}
	ss, err := sides(a, b)
	if err != nil {
		return cfg, ss, err
	}
	return cfg, ss, checkTables(tables)
}

func checkTables(tables []Table) error {
	if len(tables) == 0 {
		return &xregion.InvalidError{What: "resync tables", Reason: "none; name the tables to resync"}
	}
	seen := make(map[string]bool)
	for _, t := range tables {
		for _, r := range []xregion.Resolver{t.A, t.B} {
			if err := xregion.ValidateTable(t.Name, r); err != nil {
				return err
			}
		}
		if seen[t.Name] {
			return &xregion.InvalidError{What: "resync tables", Reason: fmt.Sprintf("%q named twice", t.Name)}
		}
		seen[t.Name] = true
	}
	return nil
}

// Run resyncs regions a and b: Diff, Apply, then Verify, repairing from
// digests whatever the changelogs did not cover and verifying again. a is
// the region coming back, b the one that served in its place; the work is
// the same both ways, the names only say whose writes were unshipped.
func Run(ctx context.Context, a, b xregion.Store, tables []Table, opts ...Option) (*Report, error) {
	p, err := Diff(ctx, a, b, tables, opts...)
	if err != nil {
		return nil, err
	}
	rep := &Report{Plan: p}
	if rep.Applied, err = p.apply(ctx, true); err != nil {
		return rep, err
	}
	verify := slices.Concat(opts, []Option{WithSince(p.Started)})
	rep.Verified, err = Verify(ctx, a, b, tables, verify...)
	if !errors.Is(err, ErrNotEqual) || p.cfg.digestsOnly {
		return rep, err
	}
	// Keys the changelogs did not cover: find them by digests, as a plan of
	// their own, and verify again.
	if rep.Repair, err = Diff(ctx, a, b, tables, slices.Concat(opts, []Option{WithDigestsOnly()})...); err != nil {
		return rep, err
	}
	var more Applied
	more, err = rep.Repair.apply(ctx, true)
	rep.Applied.add(more)
	if err != nil {
		return rep, err
	}
	rep.Verified, err = Verify(ctx, a, b, tables, verify...)
	return rep, err
}

// Report is what Run did.
type Report struct {
	Plan     *Plan
	Repair   *Plan // the digest plan for what the changelogs missed; nil if none was needed
	Applied  Applied
	Verified *Verification
}
