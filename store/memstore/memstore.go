package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/xregion/xregion"
)

// Option configures a Store. Options are validated once, in New.
type Option interface{ apply(*Store) }

type optionFunc func(*Store)

func (f optionFunc) apply(s *Store) { f(s) }

// WithWallClock sets the clock that stamps Change.Time and LostUpdate.At.
// Default xregion.SystemClock{}. Tests pass an *xregion.ManualClock to get
// predictable times.
func WithWallClock(c xregion.WallClock) Option {
	return optionFunc(func(s *Store) { s.wall = c })
}

// Store is an xregion.Store held in memory. It is safe for concurrent use.
type Store struct {
	region xregion.Region
	wall   xregion.WallClock

	leases struct {
		sync.Mutex
		held map[string]bool
	}

	// One mutex for everything: Apply must see and change records,
	// changelog, ledger and watermarks as one, and a single lock makes that
	// obviously true.
	mu struct {
		sync.Mutex
		tables     map[string]*table
		changes    []xregion.Change              // in Position order
		origins    map[xregion.Region]*originLog // each origin's changes in changes
		tx         uint64                        // Position.Tx of the last Apply that appended
		watermarks map[xregion.Region]xregion.Position
		ledger     []xregion.LostUpdate    // ledger[i].ID == retained.ledgerGone+i+1
		lost       map[lostKey]struct{}    // what the ledger holds, to record each loss once
		staged     []staged                // in staging order
		withdrawn  map[stagedKey]time.Time // when each was withdrawn
		retained   retained                // what retention removed (retention.go)
	}
}

// staged is a write a peer staged here (see xregion.Stager).
type staged struct {
	from  xregion.Region
	write xregion.Write
}

// stagedKey identifies a staged write: who sent it, and the write.
type stagedKey struct {
	from xregion.Region
	lostKey
}

func (st staged) key() stagedKey {
	return stagedKey{st.from, lostKey{st.write.Table, st.write.Record.Key, st.write.Record.Version}}
}

type table struct {
	resolver xregion.Resolver
	records  map[string]xregion.Record
}

// lostKey identifies a lost write: the same write lost again (a peer
// resending it, a resync replaying it) is the same loss.
type lostKey struct {
	table, key string
	version    xregion.Version
}

var (
	_ xregion.Store  = (*Store)(nil)
	_ xregion.Stager = (*Store)(nil)
)

// New returns an empty Store for region.
func New(region xregion.Region, opts ...Option) (*Store, error) {
	if err := region.Validate(); err != nil {
		return nil, fmt.Errorf("new memstore: %w", err)
	}
	s := &Store{region: region, wall: xregion.SystemClock{}}
	for _, o := range opts {
		o.apply(s)
	}
	if s.wall == nil {
		return nil, &xregion.InvalidError{What: "memstore wall clock", Reason: "nil; pass xregion.SystemClock{} or leave WithWallClock out"}
	}
	s.mu.tables = make(map[string]*table)
	s.mu.watermarks = make(map[xregion.Region]xregion.Position)
	s.mu.origins = make(map[xregion.Region]*originLog)
	s.mu.lost = make(map[lostKey]struct{})
	s.mu.withdrawn = make(map[stagedKey]time.Time)
	return s, nil
}

// Region returns the region the store was created for.
func (s *Store) Region() xregion.Region { return s.region }

// DefineTable declares a table. Redefining a table replaces its resolver and
// keeps its records.
func (s *Store) DefineTable(ctx context.Context, name string, r xregion.Resolver) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := xregion.ValidateTable(name, r); err != nil {
		return fmt.Errorf("define table: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.mu.tables[name]; ok {
		t.resolver = r
		return nil
	}
	s.mu.tables[name] = &table{resolver: r, records: make(map[string]xregion.Record)}
	return nil
}

// Get returns the record stored under key, tombstones included. A key no
// record could have (see xregion.ValidateKey) is refused with ErrInvalid.
func (s *Store) Get(ctx context.Context, tableName, key string) (xregion.Record, error) {
	if err := ctx.Err(); err != nil {
		return xregion.Record{}, err
	}
	if err := xregion.ValidateKey(key); err != nil {
		return xregion.Record{}, fmt.Errorf("get %s: %w", tableName, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.mu.tables[tableName]
	if !ok {
		return xregion.Record{}, fmt.Errorf("get %q: %w", tableName, xregion.ErrUnknownTable)
	}
	r, ok := t.records[key]
	if !ok {
		return xregion.Record{}, fmt.Errorf("get %s %q: %w", tableName, key, xregion.ErrNotFound)
	}
	return r.Clone(), nil
}

// Apply resolves and stores the batch atomically; see xregion.Store.
func (s *Store) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	if err := ctx.Err(); err != nil {
		return xregion.Result{}, err
	}
	if err := b.Validate(); err != nil {
		return xregion.Result{}, fmt.Errorf("apply batch: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	for _, w := range b.Writes {
		if _, ok := s.mu.tables[w.Table]; !ok {
			return xregion.Result{}, fmt.Errorf("apply batch: table %q: %w", w.Table, xregion.ErrUnknownTable)
		}
	}
	fromChangelog := !b.Through.IsZero()
	if fromChangelog {
		wm := s.mu.watermarks[b.From]
		if !wm.Less(b.Through) {
			return xregion.Result{Duplicate: true}, nil
		}
		if wm != b.After {
			return xregion.Result{}, &xregion.WatermarkError{Peer: b.From, Have: wm, After: b.After, Through: b.Through}
		}
	}

	// Resolve everything against a working copy first, so that a resolver
	// error leaves the store as it was.
	type slot struct{ table, key string }
	var (
		res     xregion.Result
		pending = make(map[slot]xregion.Record) // later writes of a key see earlier ones
		order   []xregion.Change                // Pos filled in at commit
		losses  []xregion.LostUpdate            // ID and At filled in at commit
		newLost = make(map[lostKey]struct{})
	)
	for _, w := range b.Writes {
		t := s.mu.tables[w.Table]
		k := slot{w.Table, w.Record.Key}
		local, ok := pending[k]
		if !ok {
			local = t.records[w.Record.Key]
		}
		// Clones on the way in keep a resolver that returns (or edits) its
		// arguments from aliasing the caller's bytes or the stored ones.
		out, err := t.resolver.Resolve(local.Clone(), w.Record.Clone())
		if err != nil {
			return xregion.Result{}, fmt.Errorf("resolve %s %q: %w", w.Table, w.Record.Key, err)
		}
		if err := out.Check(w.Table, w.Record); err != nil {
			return xregion.Result{}, fmt.Errorf("apply batch: %w", err)
		}
		winner := local.Version
		if out.Changed {
			rec := out.Record.Clone()
			pending[k] = rec
			c := xregion.Change{Table: w.Table, Record: rec}
			if rec.Version == w.Record.Version {
				c.OriginPos = w.Pos // kept as it came, not merged into another version
			}
			order = append(order, c)
			winner = rec.Version
			res.Applied++
		} else {
			res.Unchanged++
		}
		if out.Lost != nil {
			lk := lostKey{w.Table, out.Lost.Key, out.Lost.Version}
			_, seen := s.mu.lost[lk]
			_, seenNow := newLost[lk]
			if !seen && !seenNow {
				newLost[lk] = struct{}{}
				losses = append(losses, xregion.LostUpdate{Table: w.Table, Lost: out.Lost.Clone(), Reason: out.Reason, Winner: winner, Region: s.region})
			}
		}
	}

	// Commit. Nothing below can fail.
	now := s.wall.Now()
	if len(order) > 0 {
		s.mu.tx++
		for i := range order {
			order[i].Pos = xregion.Position{Tx: s.mu.tx, Index: uint32(i)}
			order[i].Time = now
			if order[i].Origin() == s.region {
				order[i].OriginPos = order[i].Pos
			}
			s.mu.tables[order[i].Table].records[order[i].Record.Key] = order[i].Record
		}
		for _, c := range order {
			l := s.mu.origins[c.Origin()]
			if l == nil {
				l = &originLog{}
				s.mu.origins[c.Origin()] = l
			}
			l.add(len(s.mu.changes), c)
			s.mu.changes = append(s.mu.changes, c)
		}
	}
	for _, l := range losses {
		l.ID = s.mu.retained.ledgerGone + int64(len(s.mu.ledger)) + 1
		l.At = now
		s.mu.ledger = append(s.mu.ledger, l)
		l.Lost = l.Lost.Clone() // the caller's copy
		res.Lost = append(res.Lost, l)
	}
	for lk := range newLost {
		s.mu.lost[lk] = struct{}{}
	}
	if fromChangelog {
		s.mu.watermarks[b.From] = b.Through
	}
	if b.From != "" {
		s.unstageLocked(b)
	}
	return res, nil
}

// unstageLocked drops the staged copies of the batch's writes: the batch
// has resolved them now.
func (s *Store) unstageLocked(b xregion.Batch) {
	if len(s.mu.staged) == 0 {
		return
	}
	done := make(map[stagedKey]bool, len(b.Writes))
	for _, w := range b.Writes {
		done[staged{b.From, w}.key()] = true
	}
	s.mu.staged = slices.DeleteFunc(s.mu.staged, func(st staged) bool { return done[st.key()] })
}

// Stage implements xregion.Stager.
func (s *Store) Stage(ctx context.Context, from xregion.Region, writes []xregion.Write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := (xregion.Batch{From: from, Writes: writes}).Validate(); err != nil {
		return fmt.Errorf("stage: %w", err)
	}
	if from == "" {
		return &xregion.InvalidError{What: "stage", Reason: "no From region; only a peer's writes are staged"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Refused now, as Apply refuses it, not when ApplyStaged runs as a
	// region takes over.
	for _, w := range writes {
		if _, ok := s.mu.tables[w.Table]; !ok {
			return fmt.Errorf("stage: table %q: %w", w.Table, xregion.ErrUnknownTable)
		}
	}
	for _, w := range writes {
		w.Record = w.Record.Clone()
		st := staged{from: from, write: w}
		if _, gone := s.mu.withdrawn[st.key()]; !gone {
			s.mu.staged = append(s.mu.staged, st)
		}
	}
	return nil
}

// Withdraw implements xregion.Stager.
func (s *Store) Withdraw(ctx context.Context, from xregion.Region, writes []xregion.Write) error {
	if err := s.checkStaged(ctx, from, writes); err != nil {
		return fmt.Errorf("withdraw: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.wall.Now()
	for _, w := range writes {
		s.mu.withdrawn[staged{from, w}.key()] = now
	}
	s.mu.staged = slices.DeleteFunc(s.mu.staged, func(st staged) bool {
		_, gone := s.mu.withdrawn[st.key()]
		return gone
	})
	return nil
}

// Holding implements xregion.Stager.
func (s *Store) Holding(ctx context.Context, from xregion.Region, writes []xregion.Write) ([]bool, error) {
	if err := s.checkStaged(ctx, from, writes); err != nil {
		return nil, fmt.Errorf("holding: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	waiting := make(map[stagedKey]bool, len(s.mu.staged))
	for _, st := range s.mu.staged {
		waiting[st.key()] = true
	}
	out := make([]bool, len(writes))
	for i, w := range writes {
		out[i] = waiting[staged{from, w}.key()]
	}
	return out, nil
}

// checkStaged checks the arguments of Withdraw and Holding.
func (s *Store) checkStaged(ctx context.Context, from xregion.Region, writes []xregion.Write) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if from == "" {
		return &xregion.InvalidError{What: "staged writes", Reason: "no From region; name the region that staged them"}
	}
	return xregion.Batch{From: from, Writes: writes}.Validate()
}

// ApplyStaged implements xregion.Stager: it applies the staged writes as one
// batch per region they came from.
func (s *Store) ApplyStaged(ctx context.Context) (xregion.Result, error) {
	s.mu.Lock()
	var order []xregion.Region
	byFrom := map[xregion.Region][]xregion.Write{}
	for _, st := range s.mu.staged {
		if byFrom[st.from] == nil {
			order = append(order, st.from)
		}
		byFrom[st.from] = append(byFrom[st.from], st.write)
	}
	s.mu.Unlock()
	var total xregion.Result
	for _, from := range order {
		res, err := s.Apply(ctx, xregion.Batch{From: from, Writes: byFrom[from]})
		if err != nil {
			return total, fmt.Errorf("apply staged writes from %s: %w", from, err)
		}
		total.Add(res)
	}
	return total, nil
}

// Staged implements xregion.Stager.
func (s *Store) Staged(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return int64(len(s.mu.staged)), nil
}

// Backlog implements xregion.Store.
func (s *Store) Backlog(ctx context.Context, after xregion.Position, origin xregion.Region) (xregion.Backlog, error) {
	if err := ctx.Err(); err != nil {
		return xregion.Backlog{}, err
	}
	if err := origin.Validate(); err != nil {
		return xregion.Backlog{}, fmt.Errorf("read backlog: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkAfterLocked(after); err != nil {
		return xregion.Backlog{}, fmt.Errorf("read backlog: %w", err)
	}
	b := xregion.Backlog{Now: s.wall.Now()}
	if l := s.mu.origins[origin]; l != nil {
		l.backlog(s.mu.changes, l.after(s.mu.changes, after), &b)
	}
	return b, nil
}

// Changes returns changelog entries after q.After. Every change is committed
// under the lock, so all of them are safe to read at once.
func (s *Store) Changes(ctx context.Context, q xregion.ChangeQuery) ([]xregion.Change, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkAfterLocked(q.After); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	if err := s.truncatedLocked(q); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	var out []xregion.Change
	if q.Origin == "" {
		for _, c := range s.mu.changes[s.after(q.After):] {
			if len(out) == q.Limit {
				break
			}
			c.Record = c.Record.Clone()
			out = append(out, c)
		}
		return out, nil
	}
	l := s.mu.origins[q.Origin]
	if l == nil {
		return nil, nil
	}
	for _, i := range l.at[l.after(s.mu.changes, q.After):] {
		if len(out) == q.Limit {
			break
		}
		c := s.mu.changes[i]
		if !q.OriginAfter.IsZero() && !q.OriginAfter.Less(c.OriginPos) {
			continue
		}
		c.Record = c.Record.Clone()
		out = append(out, c)
	}
	return out, nil
}

// after returns the index of the first change after p.
func (s *Store) after(p xregion.Position) int {
	i, found := slices.BinarySearchFunc(s.mu.changes, p, func(c xregion.Change, p xregion.Position) int {
		return c.Pos.Compare(p)
	})
	if found {
		i++
	}
	return i
}

// Watermark returns the position through which peer's batches were applied.
func (s *Store) Watermark(ctx context.Context, peer xregion.Region) (xregion.Position, error) {
	if err := ctx.Err(); err != nil {
		return xregion.Position{}, err
	}
	if err := peer.Validate(); err != nil {
		return xregion.Position{}, fmt.Errorf("read watermark: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.watermarks[peer], nil
}

// LostUpdates returns ledger entries with ID above after.
func (s *Store) LostUpdates(ctx context.Context, after int64, limit int) ([]xregion.LostUpdate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit < 1 || limit > xregion.MaxChangeLimit {
		return nil, &xregion.InvalidError{What: "lost update query", Reason: fmt.Sprintf("limit %d; want 1 to %d", limit, xregion.MaxChangeLimit)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := int(min(max(after-s.mu.retained.ledgerGone, 0), int64(len(s.mu.ledger))))
	end := start + min(limit, len(s.mu.ledger)-start)
	out := make([]xregion.LostUpdate, 0, end-start)
	for _, l := range s.mu.ledger[start:end] {
		l.Lost = l.Lost.Clone()
		out = append(out, l)
	}
	return out, nil
}
