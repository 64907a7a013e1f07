package memstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/xregion/xregion"
)

var _ xregion.Retainer = (*Store)(nil)

// retained is what retention removed, kept under the store's mutex.
type retained struct {
	marks      map[xregion.Region]mark // per origin, the last changelog entry removed
	ledgerGone int64                   // the ID of the last ledger entry removed: entries are removed oldest first
	readers    map[string]int64        // per ledger reader, the entry it acknowledged through
}

// mark is the last changelog entry of an origin that retention removed,
// and the furthest place in the origin's changelog of those removed.
type mark struct {
	pos       xregion.Position
	at        time.Time
	originPos xregion.Position
}

// TruncateChanges implements xregion.Retainer.
func (s *Store) TruncateChanges(ctx context.Context, t xregion.Truncation) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := t.Validate(); err != nil {
		return 0, fmt.Errorf("truncate changes: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	var last xregion.Change
	var furthest xregion.Position
	if l := s.mu.origins[t.Origin]; l != nil {
		for _, i := range l.at {
			c := s.mu.changes[i]
			if n == t.Limit || !t.Through.IsZero() && t.Through.Less(c.Pos) || !t.Before.IsZero() && !c.Time.Before(t.Before) {
				break
			}
			last, n = c, n+1
			if furthest.Less(c.OriginPos) {
				furthest = c.OriginPos
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	// The entries removed are exactly the origin's up to the last one:
	// every one of them was looked at above and found old enough.
	s.mu.changes = slices.DeleteFunc(s.mu.changes, func(c xregion.Change) bool {
		return c.Origin() == t.Origin && !last.Pos.Less(c.Pos)
	})
	s.reindexLocked()
	r := &s.mu.retained
	if r.marks == nil {
		r.marks = make(map[xregion.Region]mark)
	}
	m := r.marks[t.Origin]
	if m.pos.Less(last.Pos) {
		m.pos, m.at = last.Pos, last.Time
	}
	if m.originPos.Less(furthest) {
		m.originPos = furthest
	}
	r.marks[t.Origin] = m
	return n, nil
}

// Truncated implements xregion.Retainer.
func (s *Store) Truncated(ctx context.Context, origin xregion.Region) (xregion.Position, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return xregion.Position{}, time.Time{}, err
	}
	if err := origin.Validate(); err != nil {
		return xregion.Position{}, time.Time{}, fmt.Errorf("read truncation: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.mu.retained.marks[origin]
	return m.pos, m.at, nil
}

// reindexLocked builds the origins' indexes of the changelog again, after
// entries were removed from it and those after them moved.
func (s *Store) reindexLocked() {
	clear(s.mu.origins)
	for i, c := range s.mu.changes {
		l := s.mu.origins[c.Origin()]
		if l == nil {
			l = &originLog{}
			s.mu.origins[c.Origin()] = l
		}
		l.add(i, c)
	}
}

// truncatedLocked returns a *xregion.TruncatedError if retention removed
// entries that q would have returned: of the origin with the latest mark
// among those q reads, if that mark is after q.After and, when q keeps
// only entries past a place in the origin's changelog, the furthest place
// removed is past it.
func (s *Store) truncatedLocked(q xregion.ChangeQuery) error {
	var worst *xregion.TruncatedError
	for origin, m := range s.mu.retained.marks {
		if (q.Origin == "" || q.Origin == origin) && q.After.Less(m.pos) && (q.OriginAfter.IsZero() || q.OriginAfter.Less(m.originPos)) &&
			(worst == nil || worst.Through.Less(m.pos)) {
			worst = &xregion.TruncatedError{Region: s.region, Origin: origin, After: q.After, Through: m.pos, Time: m.at, OriginPos: m.originPos}
		}
	}
	if worst == nil {
		return nil
	}
	return worst
}

// CollectTombstones implements xregion.Retainer. It looks at every record
// of every table, which is the price of keeping no index of tombstones.
func (s *Store) CollectTombstones(ctx context.Context, before xregion.Timestamp, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := xregion.ValidateRetainLimit(limit); err != nil {
		return 0, fmt.Errorf("collect tombstones: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type slot struct{ table, key string }
	waiting := make(map[slot]bool, len(s.mu.staged))
	for _, st := range s.mu.staged {
		waiting[slot{st.write.Table, st.write.Record.Key}] = true
	}
	n := 0
	for _, name := range slices.Sorted(maps.Keys(s.mu.tables)) {
		for key, r := range s.mu.tables[name].records {
			if n == limit {
				return n, nil
			}
			if r.Tombstone && r.Version.Time.Less(before) && !waiting[slot{name, key}] {
				delete(s.mu.tables[name].records, key)
				n++
			}
		}
	}
	return n, nil
}

// TrimLedger implements xregion.Retainer.
func (s *Store) TrimLedger(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := xregion.ValidateRetainLimit(limit); err != nil {
		return 0, fmt.Errorf("trim ledger: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.mu.retained
	acked, anyReader := int64(0), len(r.readers) > 0
	if anyReader {
		acked = slices.Min(slices.Collect(maps.Values(r.readers)))
	}
	n := 0
	for n < limit && n < len(s.mu.ledger) {
		l := s.mu.ledger[n]
		if !(!before.IsZero() && l.At.Before(before) || anyReader && l.ID <= acked) {
			break
		}
		delete(s.mu.lost, lostKey{l.Table, l.Lost.Key, l.Lost.Version})
		n++
	}
	s.mu.ledger = slices.Delete(s.mu.ledger, 0, n)
	r.ledgerGone += int64(n)
	return n, nil
}

// AckLostUpdates implements xregion.Retainer.
func (s *Store) AckLostUpdates(ctx context.Context, reader string, through int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := xregion.ValidateReaderName(reader); err != nil {
		return fmt.Errorf("acknowledge lost updates: %w", err)
	}
	if through < 0 {
		return &xregion.InvalidError{What: "lost update acknowledgement", Reason: fmt.Sprintf("through %d; want an entry ID, 0 or more", through)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.mu.retained
	if r.readers == nil {
		r.readers = make(map[string]int64)
	}
	// The ledger's last entry is the last ID handed out: one acknowledged
	// beyond it would take entries nobody has read yet.
	through = min(through, r.ledgerGone+int64(len(s.mu.ledger)))
	r.readers[reader] = max(r.readers[reader], through)
	return nil
}

// SweepStage implements xregion.Retainer.
func (s *Store) SweepStage(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := xregion.ValidateRetainLimit(limit); err != nil {
		return 0, fmt.Errorf("sweep stage: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	// Stage and Withdraw keep withdrawn writes off the stage here, so only
	// settled ones are swept.
	s.mu.staged = slices.DeleteFunc(s.mu.staged, func(st staged) bool {
		if n < limit && s.settledLocked(st) {
			n++
			return true
		}
		return false
	})
	if before.IsZero() {
		return n, nil
	}
	// Oldest first, so that a call cut short by limit leaves the newest.
	type fence struct {
		key stagedKey
		at  time.Time
	}
	var old []fence
	for k, at := range s.mu.withdrawn {
		if at.Before(before) {
			old = append(old, fence{k, at})
		}
	}
	slices.SortFunc(old, func(a, b fence) int { return cmp.Compare(a.at.UnixNano(), b.at.UnixNano()) })
	for _, f := range old[:min(len(old), limit-n)] {
		delete(s.mu.withdrawn, f.key)
		n++
	}
	return n, nil
}

// settledLocked reports whether applying the staged write would change
// nothing: its table's resolver keeps the stored record, and records no
// loss the ledger does not hold already. A resolver's error leaves it
// staged, for ApplyStaged to report.
func (s *Store) settledLocked(st staged) bool {
	t, ok := s.mu.tables[st.write.Table]
	if !ok {
		return false
	}
	out, err := t.resolver.Resolve(t.records[st.write.Record.Key].Clone(), st.write.Record.Clone())
	if err != nil || out.Changed {
		return false
	}
	if out.Lost != nil {
		_, recorded := s.mu.lost[lostKey{st.write.Table, out.Lost.Key, out.Lost.Version}]
		return recorded
	}
	return true
}
