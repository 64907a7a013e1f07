package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func (s suite) testChanges(t *testing.T) {
	t.Run("Order", func(t *testing.T) {
		st := s.store(t, regionA, "t1", "t2")
		writes := []xregion.Write{
			wr("t1", rec("k1", "1", ver(1, regionA))),
			wr("t2", rec("k2", "2", ver(2, regionA))),
			wr("t1", rec("k3", "3", ver(3, regionA))),
			wr("t1", rec("k1", "4", ver(4, regionA))),
		}
		apply(t, st, local(writes[0], writes[1]))
		apply(t, st, local(writes[2]))
		apply(t, st, local(writes[3]))

		cs, _ := drain(t, st, xregion.Position{})
		require.Len(t, cs, len(writes))
		var last xregion.Position
		for i, c := range cs {
			require.False(t, c.Pos.IsZero(), "change %d has the zero position", i)
			require.True(t, last.Less(c.Pos), "change %d at %s is not after %s", i, c.Pos, last)
			last = c.Pos
			require.Equal(t, writes[i].Table, c.Table)
			requireRecord(t, writes[i].Record, c.Record, "change %d", i)
			require.Equal(t, regionA, c.Origin())
		}
	})

	t.Run("OnlyChanged", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		v2 := rec("k", "v2", ver(2, regionA))
		apply(t, st, local(wr("t", v2)))
		apply(t, st, local(wr("t", rec("k", "v1", ver(1, regionA))))) // older
		apply(t, st, local(wr("t", v2)))                              // same again
		apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", v2)}})

		cs, _ := drain(t, st, xregion.Position{})
		require.Len(t, cs, 1)
		requireRecord(t, v2, cs[0].Record)
	})

	t.Run("OriginPos", func(t *testing.T) {
		st := s.store(t, regionB, "t")
		p := func(i uint32) xregion.Position { return xregion.Position{Tx: 100, Index: i} }
		apply(t, st, local(wr("t", rec("own", "v", ver(1, regionB)))))
		shipped := []xregion.Write{
			{Table: "t", Record: rec("a0", "v", ver(2, regionA)), Pos: p(0)},
			{Table: "t", Record: rec("a1", "v", ver(3, regionA)), Pos: p(1)},
			{Table: "t", Record: rec("a2", "v", ver(4, regionA)), Pos: p(2)},
		}
		apply(t, st, xregion.Batch{From: regionA, Through: p(2), Writes: shipped})
		apply(t, st, xregion.Batch{From: regionA, Writes: []xregion.Write{wr("t", rec("staged", "v", ver(5, regionA)))}})

		cs, barrier := drain(t, st, xregion.Position{})
		require.Equal(t, []string{"t/own", "t/a0", "t/a1", "t/a2", "t/staged"}, keys(cs))
		require.Equal(t, cs[0].Pos, cs[0].OriginPos, "a local change stands at its own place")
		for i, w := range shipped {
			require.Equal(t, w.Pos, cs[1+i].OriginPos, "a shipped change keeps its place in its origin's changelog")
		}
		require.True(t, cs[4].OriginPos.IsZero(), "a write applied by version has no known place")

		got, err := st.Changes(t.Context(), xregion.ChangeQuery{Origin: regionA, OriginAfter: p(0), Limit: 10})
		require.NoError(t, err)
		require.Equal(t, []string{"t/a1", "t/a2"}, keys(got), "OriginAfter keeps what follows it in the origin's changelog")
		got, err = st.Changes(t.Context(), xregion.ChangeQuery{Origin: regionB, OriginAfter: cs[0].Pos, Limit: 10})
		require.NoError(t, err)
		require.Len(t, got, 1, "for the store's own region, OriginAfter is a place in its own changelog")
		require.Equal(t, barrier, got[0].Pos)

		_, err = st.Changes(t.Context(), xregion.ChangeQuery{OriginAfter: p(0), Limit: 10})
		require.ErrorIs(t, err, xregion.ErrInvalid, "OriginAfter needs Origin")
	})

	t.Run("Time", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		apply(t, st, local(wr("t", rec("k1", "v", ver(1, regionA))), wr("t", rec("k2", "v", ver(1, regionA)))))
		apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", rec("k3", "v", ver(1, regionB)))}})
		cs, _ := drain(t, st, xregion.Position{})
		require.Len(t, cs, 3)
		for _, c := range cs {
			require.False(t, c.Time.IsZero(), "change %s has no Time", c.Pos)
		}
	})

	t.Run("Origin", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		apply(t, st, local(wr("t", rec("a1", "v", ver(1, regionA)))))
		apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{
			wr("t", rec("b1", "v", ver(2, regionB))),
			// Relayed: b sends a write that c made.
			wr("t", rec("c1", "v", ver(3, regionC))),
		}})
		apply(t, st, local(wr("t", rec("a2", "v", ver(4, regionA)))))
		all, mark := drain(t, st, xregion.Position{})
		require.Equal(t, []string{"t/a1", "t/b1", "t/c1", "t/a2"}, keys(all))

		for _, c := range []struct {
			origin xregion.Region
			want   []string
		}{
			{regionB, []string{"t/b1"}},
			{regionC, []string{"t/c1"}},
			{"region-d", []string{}},
		} {
			cs, err := st.Changes(t.Context(), xregion.ChangeQuery{Origin: c.origin, Limit: 100})
			require.NoError(t, err)
			require.Equal(t, c.want, keys(cs), "origin %s", c.origin)
		}
		cs, err := st.Changes(t.Context(), xregion.ChangeQuery{Origin: regionA, Limit: 100})
		require.NoError(t, err)
		require.Equal(t, []string{"t/a1", "t/a2"}, keys(withoutBarriers(cs)))

		// With After and Limit, the filter applies before the limit.
		cs, err = st.Changes(t.Context(), xregion.ChangeQuery{After: all[0].Pos, Origin: regionA, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []string{"t/a2"}, keys(cs))
		cs, err = st.Changes(t.Context(), xregion.ChangeQuery{After: mark, Origin: regionA, Limit: 1})
		require.NoError(t, err)
		require.Empty(t, cs)
	})

	t.Run("OriginPages", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		interleaveOrigins(t, st, 30)
		all, _ := drain(t, st, xregion.Position{})
		for _, origin := range []xregion.Region{regionA, regionB, regionC} {
			var want []xregion.Change
			for _, c := range all {
				if c.Origin() == origin {
					want = append(want, c)
				}
			}
			// Paging with each page size, resuming after the last change
			// read, returns the origin's changes, each once.
			for _, limit := range []int{1, 2, 3, 5} {
				var got []xregion.Change
				var after xregion.Position
				for {
					cs, err := st.Changes(t.Context(), xregion.ChangeQuery{After: after, Origin: origin, Limit: limit})
					require.NoError(t, err)
					require.LessOrEqual(t, len(cs), limit)
					if len(cs) == 0 {
						break
					}
					after = cs[len(cs)-1].Pos
					got = append(got, withoutBarriers(cs)...)
				}
				require.Equal(t, keys(want), keys(got), "origin %s, pages of %d", origin, limit)
			}
			// After any position, another origin's among them, a page
			// starts at the origin's next change.
			for i, c := range all {
				var next []xregion.Change
				for _, n := range all[i+1:] {
					if n.Origin() == origin && len(next) < 2 {
						next = append(next, n)
					}
				}
				cs, err := st.Changes(t.Context(), xregion.ChangeQuery{After: c.Pos, Origin: origin, Limit: 2})
				require.NoError(t, err)
				require.Equal(t, keys(next), keys(withoutBarriers(cs)), "origin %s after %s (a change of %s)", origin, c.Pos, c.Origin())
			}
		}
	})

	t.Run("After", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		for i := range 4 {
			apply(t, st, local(wr("t", rec(fmt.Sprint("k", i), "v", ver(1, regionA)))))
		}
		all, mark := drain(t, st, xregion.Position{})
		require.Len(t, all, 4)

		cs, err := st.Changes(t.Context(), xregion.ChangeQuery{After: all[1].Pos, Limit: 100})
		require.NoError(t, err)
		require.Equal(t, keys(all[2:]), keys(withoutBarriers(cs)), "After excludes its own position")

		cs, err = st.Changes(t.Context(), xregion.ChangeQuery{After: mark, Limit: 100})
		require.NoError(t, err)
		require.Empty(t, cs, "nothing after the last change")

		// A position between two changes (say, a peer's watermark) works
		// as well as one that names a change.
		between := all[1].Pos
		between.Index++
		if between.Less(all[2].Pos) {
			cs, err = st.Changes(t.Context(), xregion.ChangeQuery{After: between, Limit: 1})
			require.NoError(t, err)
			require.Equal(t, keys(all[2:3]), keys(cs))
		}
	})

	t.Run("Limit", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		var writes []xregion.Write
		for i := range 5 {
			writes = append(writes, wr("t", rec(fmt.Sprint("k", i), "v", ver(1, regionA))))
		}
		apply(t, st, local(writes...))
		all, _ := drain(t, st, xregion.Position{})
		require.Len(t, all, 5)

		cs, err := st.Changes(t.Context(), xregion.ChangeQuery{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, keys(all[:2]), keys(cs))
		cs, err = st.Changes(t.Context(), xregion.ChangeQuery{After: cs[1].Pos, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, keys(all[2:4]), keys(cs))
		cs, err = st.Changes(t.Context(), xregion.ChangeQuery{Limit: xregion.MaxChangeLimit})
		require.NoError(t, err)
		require.Equal(t, keys(all), keys(withoutBarriers(cs)))
	})

	t.Run("InvalidQuery", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		apply(t, st, local(wr("t", rec("k", "v", ver(1, regionA)))))
		for _, q := range []xregion.ChangeQuery{
			{Limit: 0},
			{Limit: -1},
			{Limit: xregion.MaxChangeLimit + 1},
			{Limit: 10, Origin: "Not A Region"},
		} {
			_, err := st.Changes(t.Context(), q)
			require.ErrorIs(t, err, xregion.ErrInvalid, "query %+v", q)
		}
	})

	t.Run("ConcurrentWriters", s.testConcurrentChanges)
}

// testConcurrentChanges is the outbox trap: writers commit in an order of
// their own while a reader pages through the changelog resuming after the
// last position it read. Every change must reach the reader exactly once.
func (s suite) testConcurrentChanges(t *testing.T) {
	const writers, batches, perBatch = 8, 50, 2
	st := s.store(t, regionA, "t")
	ctx := t.Context()

	var (
		wg          sync.WaitGroup
		start       = make(chan struct{})
		writeErrs   = make(chan error, writers)
		writersDone = make(chan struct{})
		readerDone  = make(chan struct{})
		readErr     error
		seen        = make(map[string]int)
		last        xregion.Position
	)
	for g := range writers {
		wg.Go(func() {
			<-start
			for i := range batches {
				var b xregion.Batch
				for j := range perBatch {
					b.Writes = append(b.Writes, wr("t", rec(fmt.Sprintf("w%d-b%d-%d", g, i, j), "v", ver(int64(i+1), regionA))))
				}
				if _, err := st.Apply(ctx, b); err != nil {
					writeErrs <- fmt.Errorf("writer %d, batch %d: %w", g, i, err)
					return
				}
			}
		})
	}
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-writersDone:
				return
			default:
			}
			cs, err := st.Changes(ctx, xregion.ChangeQuery{After: last, Limit: 37})
			if err != nil {
				readErr = err
				return
			}
			for _, c := range cs {
				if !last.Less(c.Pos) {
					readErr = fmt.Errorf("Changes after %s returned position %s", last, c.Pos)
					return
				}
				last = c.Pos
				seen[c.Record.Key]++
			}
			if len(cs) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()

	close(start)
	wg.Wait()
	close(writeErrs)
	close(writersDone)
	<-readerDone
	for err := range writeErrs {
		require.NoError(t, err)
	}
	require.NoError(t, readErr)

	// The writers are done: read the rest.
	rest, _ := drain(t, st, last)
	for _, c := range rest {
		seen[c.Record.Key]++
	}
	var missing, twice []string
	for g := range writers {
		for i := range batches {
			for j := range perBatch {
				key := fmt.Sprintf("w%d-b%d-%d", g, i, j)
				switch seen[key] {
				case 0:
					missing = append(missing, key)
				case 1:
				default:
					twice = append(twice, key)
				}
				delete(seen, key)
			}
		}
	}
	total := writers * batches * perBatch
	if len(missing) > 0 {
		require.Failf(t, "changes skipped", "the reader never saw %d of %d changes, e.g. %v", len(missing), total, missing[:min(len(missing), 5)])
	}
	if len(twice) > 0 {
		require.Failf(t, "changes read twice", "the reader saw %d of %d changes more than once, e.g. %v", len(twice), total, twice[:min(len(twice), 5)])
	}
	require.Empty(t, seen, "changes no one wrote")
}

// interleaveOrigins applies batches that mix the changelog's origins: local
// writes of regionA, and batches from regionB that hold its own writes and,
// relayed, regionC's, so that origins change within a transaction too.
func interleaveOrigins(t *testing.T, st xregion.Store, batches int) {
	t.Helper()
	n := 0
	for i := range batches {
		b := xregion.Batch{}
		origins := []xregion.Region{regionA}
		if i%3 == 1 {
			b.From, origins = regionB, []xregion.Region{regionB, regionC, regionB}
		}
		for j := range 1 + i%4 {
			n++
			o := origins[(i+j)%len(origins)]
			b.Writes = append(b.Writes, wr("t", rec(fmt.Sprintf("k%d-%s", n, o), fmt.Sprint("value-", n%7), ver(int64(n), o))))
		}
		apply(t, st, b)
	}
}

func withoutBarriers(cs []xregion.Change) []xregion.Change {
	out := make([]xregion.Change, 0, len(cs))
	for _, c := range cs {
		if c.Table != barrierTable {
			out = append(out, c)
		}
	}
	return out
}
