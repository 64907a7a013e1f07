package replicate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/wait"
)

// CatchUpReport is what CatchUp found and did.
type CatchUpReport struct {
	Dead xregion.Region
	// MostComplete is the survivor that had applied the most of Dead's
	// changelog (the highest watermark for it; the first named on a tie):
	// the one to promote, for an active-passive tier, or to move Dead's
	// single-writer homes to.
	MostComplete xregion.Region
	Survivors    []SurvivorCatchUp // in the order given
}

// SurvivorCatchUp is one survivor's part of a catch-up.
type SurvivorCatchUp struct {
	Region xregion.Region
	// Watermark is how far into Dead's changelog the survivor had applied
	// before the catch-up.
	Watermark xregion.Position
	// StagedApplied counts the staged writes it resolved (xregion.Stager's
	// ApplyStaged): synchronous writes Dead may have acknowledged.
	StagedApplied int
	// LackedBefore and LackedAfter count the writes of Dead that another
	// survivor held and this one did not, before and after the catch-up;
	// RPOBefore is the age of the oldest of them, by when the survivor
	// holding it appended it.
	LackedBefore, LackedAfter int
	RPOBefore                 time.Duration
	// Received counts the changes forwarded to it.
	Received int
	// Hidden counts its changes of Dead that a transaction still open
	// kept from being read when CatchUp returned: zero unless it returned
	// an error (see the HAZARD on CatchUp). LackedBefore is counted once
	// nothing is hidden.
	Hidden int64
}

// CatchUp brings the survivors of a dead region level with each other in
// that region's writes: call it once the region is declared gone (a
// detector's verdict, or an operator's call), before promoting any of
// them. With three or more regions, a write the dead region had shipped
// (or synchronously staged, under a quorum below the number of peers) to
// some survivors but not to others would otherwise stay in those alone.
//
// In order: each survivor resolves its staged writes (ApplyStaged: every
// staged write, whoever staged it), so that a synchronous write any of
// them acknowledged is in its store; the survivor with the highest
// watermark for dead is named MostComplete and forwards (Forward) what
// each other one lacks of dead's changelog; then every survivor forwards
// to every other the writes of dead it holds with no place in dead's
// changelog. It goes round again until no survivor lacks anything another
// holds, and returns the report, which says per survivor how much it
// lacked before and after.
//
// HAZARD: a PostgreSQL store's Changes does not read past a transaction
// open anywhere on its server (see pgstore), and what a survivor cannot
// read it cannot forward. CatchUp counts such changes (Store.Backlog) and
// waits for them, a poll interval (WithPollInterval) at a time, until ctx
// ends; it then returns ctx's error with the report, whose Hidden says
// how many remained unread.
//
// Where retention removed from the most complete survivor writes of dead
// that another survivor lacks (Retention.PeerChangesFor passed), CatchUp
// fails with an *xregion.TruncatedError: that survivor needs a resync.
//
// CatchUp is safe to run again, and alongside dead's own shippers should
// it come back halfway: every forwarded batch moves the receiver's
// watermark for dead exactly as dead's shipper would, and a batch that
// finds it moved is re-read from there.
func CatchUp(ctx context.Context, dead xregion.Region, survivors []xregion.Store, opts ...Option) (*CatchUpReport, error) {
	cfg := newConfig(opts)
	if err := checkCatchUp(dead, survivors); err != nil {
		return nil, fmt.Errorf("catch up on %s: %w", dead, err)
	}
	rep := &CatchUpReport{Dead: dead, Survivors: make([]SurvivorCatchUp, len(survivors))}
	most := 0
	for i, s := range survivors {
		sc := &rep.Survivors[i]
		sc.Region = s.Region()
		if st, ok := s.(xregion.Stager); ok {
			res, err := st.ApplyStaged(ctx)
			if err != nil {
				return rep, fmt.Errorf("catch up on %s: resolve %s's staged writes: %w", dead, sc.Region, err)
			}
			sc.StagedApplied = res.Applied
		}
		wm, err := s.Watermark(ctx, dead)
		if err != nil {
			return rep, fmt.Errorf("catch up on %s: %w", dead, err)
		}
		sc.Watermark = wm
		if rep.Survivors[most].Watermark.Less(wm) {
			most = i
		}
	}
	rep.MostComplete = survivors[most].Region()

	// The most complete first: after it, every survivor's watermark is at
	// its, and the others' passes by place send nothing.
	order := append([]int{most}, otherThan(len(survivors), most)...)
	measured := false
	for round := 0; ; round++ {
		held, err := surveyAll(ctx, survivors, dead)
		if err != nil {
			return rep, fmt.Errorf("catch up on %s: %w", dead, err)
		}
		hidden := int64(0)
		for i := range survivors {
			rep.Survivors[i].Hidden = held[i].hidden
			hidden += held[i].hidden
		}
		if hidden > 0 {
			// What open transactions hide can be neither counted nor
			// forwarded yet: wait for it.
			if err := wait.Sleep(ctx, cfg.clock, cfg.pollInterval); err != nil {
				return rep, fmt.Errorf("catch up on %s: %d changes still hidden by open transactions: %w", dead, hidden, err)
			}
			continue
		}
		lacked := 0
		now := cfg.clock.Now()
		for i := range survivors {
			n, rpo, err := lacking(ctx, survivors, held, most, i, now)
			if err != nil {
				return rep, fmt.Errorf("catch up on %s: %w", dead, err)
			}
			sc := &rep.Survivors[i]
			if !measured {
				sc.LackedBefore, sc.RPOBefore = n, rpo
			}
			sc.LackedAfter = n
			lacked += n
		}
		measured = true
		// What the most complete no longer holds (retention removed it)
		// cannot be forwarded, nor counted above: a survivor that lacks
		// some of it needs a resync.
		for _, i := range otherThan(len(survivors), most) {
			_, err := survivors[most].Changes(ctx, xregion.ChangeQuery{Origin: dead, OriginAfter: held[i].wm, Limit: 1})
			if errors.Is(err, xregion.ErrTruncated) {
				return rep, fmt.Errorf("catch up on %s: %s lacks writes of it that %s no longer holds: %w", dead, survivors[i].Region(), rep.MostComplete, err)
			}
		}
		if lacked == 0 {
			cfg.logger.Info("replicate: survivors caught up", "dead", dead, "most_complete", rep.MostComplete, "rounds", round)
			return rep, nil
		}
		moved := 0
		for _, i := range order {
			for j := range survivors {
				if j == i {
					continue
				}
				n, err := Forward(ctx, survivors[i], survivors[j], dead)
				rep.Survivors[j].Received += n
				moved += n
				if err != nil {
					return rep, fmt.Errorf("catch up on %s: %w", dead, err)
				}
			}
		}
		if moved == 0 {
			// Nothing more goes in: the receivers' resolvers keep the rest
			// out (a stale home's write fenced, say). Going round again
			// would change nothing.
			return rep, fmt.Errorf("catch up on %s: %d writes stay lacking that no receiver takes: %w", dead, lacked, ErrNotCaughtUp)
		}
	}
}

// ErrNotCaughtUp is returned by CatchUp when survivors still lack writes
// of the dead region that forwarding cannot bring them: their resolvers
// keep those out. The report's LackedAfter says how many, per survivor.
var ErrNotCaughtUp = errors.New("replicate: survivors could not be caught up")

func checkCatchUp(dead xregion.Region, survivors []xregion.Store) error {
	if err := dead.Validate(); err != nil {
		return err
	}
	if len(survivors) < 2 {
		return &xregion.InvalidError{What: "survivors", Reason: fmt.Sprintf("%d; a catch-up is between two or more", len(survivors))}
	}
	seen := map[xregion.Region]bool{}
	for _, s := range survivors {
		if s == nil {
			return &xregion.InvalidError{What: "survivors", Reason: "a nil store"}
		}
		r := s.Region()
		if r == dead {
			return &xregion.InvalidError{What: "survivors", Reason: fmt.Sprintf("%s is the dead region", r)}
		}
		if seen[r] {
			return &xregion.InvalidError{What: "survivors", Reason: fmt.Sprintf("%s named twice", r)}
		}
		seen[r] = true
	}
	return nil
}

func otherThan(n, skip int) []int {
	var out []int
	for i := range n {
		if i != skip {
			out = append(out, i)
		}
	}
	return out
}

// heldWrite is one of the dead region's writes as a survivor's changelog
// holds it.
type heldWrite struct {
	table, key string
	version    xregion.Version
	originPos  xregion.Position
	at         time.Time
}

// holdings is what a survivor holds of the dead region's writes: those
// Changes shows, and how many more an open transaction hides.
type holdings struct {
	wm     xregion.Position // its watermark for the dead region
	writes []heldWrite
	hidden int64
}

func surveyAll(ctx context.Context, survivors []xregion.Store, dead xregion.Region) ([]holdings, error) {
	out := make([]holdings, len(survivors))
	for i, s := range survivors {
		h := &out[i]
		var err error
		if h.wm, err = s.Watermark(ctx, dead); err != nil {
			return nil, err
		}
		var cursor xregion.Position
		for {
			changes, err := changesHeld(ctx, s, xregion.ChangeQuery{After: cursor, Origin: dead, Limit: DefaultBatchSize})
			if err != nil {
				return nil, err
			}
			if len(changes) == 0 {
				break
			}
			cursor = changes[len(changes)-1].Pos
			for _, c := range changes {
				h.writes = append(h.writes, heldWrite{c.Table, c.Record.Key, c.Record.Version, c.OriginPos, c.Time})
			}
		}
		b, err := s.Backlog(ctx, cursor, dead)
		if err != nil {
			return nil, err
		}
		h.hidden = b.Changes
	}
	return out, nil
}

// lacking counts the writes of the dead region that survivor i lacks, each
// once: those the most complete survivor holds past i's watermark, and
// those with no place in the dead region's changelog that another
// survivor holds and i does not hold at that version or a later one. rpo
// is the age of the oldest of them, by when the survivor holding it
// appended it.
func lacking(ctx context.Context, survivors []xregion.Store, held []holdings, most, i int, now time.Time) (int, time.Duration, error) {
	type write struct {
		table, key string
		version    xregion.Version
	}
	lacks := map[write]bool{}
	var oldest time.Time
	for j := range survivors {
		if j == i {
			continue
		}
		for _, w := range held[j].writes {
			k := write{w.table, w.key, w.version}
			if lacks[k] {
				continue
			}
			missing := false
			if !w.originPos.IsZero() {
				// By place: the most complete holds all the others do.
				missing = j == most && held[i].wm.Less(w.originPos)
			} else {
				rec, err := survivors[i].Get(ctx, w.table, w.key)
				switch {
				case errors.Is(err, xregion.ErrNotFound):
					missing = true
				case err != nil:
					return 0, 0, err
				default:
					missing = rec.Version.Less(w.version)
				}
			}
			if missing {
				lacks[k] = true
				if oldest.IsZero() || w.at.Before(oldest) {
					oldest = w.at
				}
			}
		}
	}
	if len(lacks) == 0 {
		return 0, 0, nil
	}
	return len(lacks), max(now.Sub(oldest), time.Nanosecond), nil
}
