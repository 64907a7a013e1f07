package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// peerBatch is a batch from peer holding the changes in (after, through].
func peerBatch(peer xregion.Region, after, through xregion.Position, writes ...xregion.Write) xregion.Batch {
	return xregion.Batch{From: peer, After: after, Through: through, Writes: writes}
}

func (s suite) testWatermark(t *testing.T) {
	t.Run("Unknown", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		requireWatermark(t, st, regionB, xregion.Position{})

		// Writes that are not read from a changelog leave watermarks alone:
		// local writes, and synchronous writes a peer sends directly.
		apply(t, st, local(wr("t", rec("k1", "v", ver(1, regionA)))))
		apply(t, st, xregion.Batch{From: regionB, Writes: []xregion.Write{wr("t", rec("k2", "v", ver(2, regionB)))}})
		requireWatermark(t, st, regionB, xregion.Position{})
		requireWatermark(t, st, regionA, xregion.Position{})
	})

	t.Run("Advance", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		p1, p2 := pos(7, 2), pos(9, 0)
		r1 := rec("k1", "v", ver(1, regionB))
		r2 := rec("k2", "v", ver(2, regionB))
		require.Equal(t, xregion.Result{Applied: 1}, apply(t, st, peerBatch(regionB, pos(0, 0), p1, wr("t", r1))))
		requireWatermark(t, st, regionB, p1)
		require.Equal(t, xregion.Result{Applied: 1}, apply(t, st, peerBatch(regionB, p1, p2, wr("t", r2))))
		requireWatermark(t, st, regionB, p2)
		requireRecord(t, r1, get(t, st, "t", "k1"))
		requireRecord(t, r2, get(t, st, "t", "k2"))

		// A range whose changes were all filtered out by the sender (they
		// were not its own) still moves the watermark.
		p3 := pos(12, 5)
		require.Equal(t, xregion.Result{}, apply(t, st, peerBatch(regionB, p2, p3)))
		requireWatermark(t, st, regionB, p3)

		// So does a batch whose writes all lose: it was applied.
		p4 := pos(13, 0)
		require.Equal(t, xregion.Result{Unchanged: 1},
			apply(t, st, peerBatch(regionB, p3, p4, wr("t", rec("k1", "stale", ver(0, regionB))))))
		requireWatermark(t, st, regionB, p4)
	})

	t.Run("Duplicate", func(t *testing.T) {
		st := s.store(t, regionA)
		require.NoError(t, st.DefineTable(t.Context(), "log", appendValues))
		p1, p2 := pos(3, 0), pos(3, 4)
		b1 := peerBatch(regionB, pos(0, 0), p1, wr("log", rec("k", "x", ver(1, regionB))))
		b2 := peerBatch(regionB, p1, p2, wr("log", rec("k", "y", ver(2, regionB))))
		apply(t, st, b1)
		apply(t, st, b2)
		before, _ := drain(t, st, xregion.Position{})
		require.Len(t, before, 2)

		for _, c := range []struct {
			name string
			b    xregion.Batch
		}{
			{"same batch", b2},
			{"earlier batch", b1},
			{"range ending at the watermark", peerBatch(regionB, pos(0, 0), p2, wr("log", rec("k", "z", ver(3, regionB))))},
		} {
			res, err := st.Apply(t.Context(), c.b)
			require.NoError(t, err, c.name)
			require.Equal(t, xregion.Result{Duplicate: true}, res, c.name)
		}

		require.Equal(t, "xy", string(get(t, st, "log", "k").Value), "a duplicate batch was applied again")
		requireWatermark(t, st, regionB, p2)
		after, _ := drain(t, st, xregion.Position{})
		require.Equal(t, keys(before), keys(after), "a duplicate batch appended changes")
	})

	t.Run("Mismatch", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		_, err := st.Apply(t.Context(), peerBatch(regionB, pos(2, 0), pos(4, 0), wr("t", rec("k", "v", ver(1, regionB)))))
		requireWatermarkError(t, err, xregion.WatermarkError{Peer: regionB, Have: pos(0, 0), After: pos(2, 0), Through: pos(4, 0)})

		p := pos(5, 1)
		apply(t, st, peerBatch(regionB, pos(0, 0), p))
		for _, c := range []struct {
			name         string
			after, until xregion.Position
		}{
			{"gap", pos(6, 0), pos(8, 0)},
			{"overlap", pos(4, 0), pos(8, 0)},
			{"overlap within a transaction", pos(5, 0), pos(5, 2)},
		} {
			_, err := st.Apply(t.Context(), peerBatch(regionB, c.after, c.until, wr("t", rec("k", "v", ver(1, regionB)))))
			requireWatermarkError(t, err, xregion.WatermarkError{Peer: regionB, Have: p, After: c.after, Through: c.until})
		}
		requireNotFound(t, st, "t", "k")
		requireWatermark(t, st, regionB, p)
		requireEmptyChangelog(t, st)
	})

	t.Run("IndependentPeers", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		apply(t, st, peerBatch(regionB, pos(0, 0), pos(10, 0), wr("t", rec("b", "v", ver(1, regionB)))))
		requireWatermark(t, st, regionB, pos(10, 0))
		requireWatermark(t, st, regionC, pos(0, 0))

		// c's changelog starts from zero whatever b's stands at.
		apply(t, st, peerBatch(regionC, pos(0, 0), pos(2, 0), wr("t", rec("c", "v", ver(1, regionC)))))
		requireWatermark(t, st, regionC, pos(2, 0))
		requireWatermark(t, st, regionB, pos(10, 0))

		_, err := st.Apply(t.Context(), peerBatch(regionC, pos(10, 0), pos(11, 0)))
		require.ErrorIs(t, err, xregion.ErrWatermark, "c's batch was checked against b's watermark")
		res := apply(t, st, peerBatch(regionB, pos(10, 0), pos(11, 0)))
		require.False(t, res.Duplicate)
		requireWatermark(t, st, regionB, pos(11, 0))
		requireWatermark(t, st, regionC, pos(2, 0))
	})

	t.Run("Atomic", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		require.NoError(t, st.DefineTable(t.Context(), "r", refusing))
		p := pos(4, 0)

		_, err := st.Apply(t.Context(), peerBatch(regionB, pos(0, 0), p,
			wr("r", rec("ok", "v", ver(1, regionB))),
			wr("r", rec("no", "refuse", ver(1, regionB))),
		))
		require.ErrorIs(t, err, errRefused)
		requireWatermark(t, st, regionB, pos(0, 0))

		_, err = st.Apply(t.Context(), peerBatch(regionB, pos(0, 0), p,
			wr("t", rec("ok", "v", ver(1, regionB))),
			wr("nosuch", rec("ok", "v", ver(1, regionB))),
		))
		require.ErrorIs(t, err, xregion.ErrUnknownTable)
		requireWatermark(t, st, regionB, pos(0, 0))
		requireNotFound(t, st, "r", "ok")
		requireNotFound(t, st, "t", "ok")

		// The sender fixes its batch and sends the same range again.
		res := apply(t, st, peerBatch(regionB, pos(0, 0), p, wr("r", rec("ok", "v", ver(1, regionB)))))
		require.Equal(t, xregion.Result{Applied: 1}, res)
		requireWatermark(t, st, regionB, p)
	})

	t.Run("InvalidBatch", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		good := wr("t", rec("k", "v", ver(1, regionB)))
		for _, c := range []struct {
			name string
			b    xregion.Batch
		}{
			{"positions without From", xregion.Batch{After: pos(0, 0), Through: pos(1, 0), Writes: []xregion.Write{good}}},
			{"After equal to Through", peerBatch(regionB, pos(1, 0), pos(1, 0), good)},
			{"After after Through", peerBatch(regionB, pos(2, 0), pos(1, 5), good)},
			{"After without Through", peerBatch(regionB, pos(1, 0), pos(0, 0), good)},
			{"bad From", peerBatch("Region B", pos(0, 0), pos(1, 0), good)},
		} {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				_, err := st.Apply(t.Context(), c.b)
				require.ErrorIs(t, err, xregion.ErrInvalid)
			})
		}
		requireNotFound(t, st, "t", "k")
		requireWatermark(t, st, regionB, pos(0, 0))
		requireEmptyChangelog(t, st)
	})

	t.Run("ExactlyOnce", s.testExactlyOnce)
}

func requireWatermarkError(t *testing.T, err error, want xregion.WatermarkError) {
	t.Helper()
	require.ErrorIs(t, err, xregion.ErrWatermark)
	var we *xregion.WatermarkError
	require.ErrorAs(t, err, &we)
	require.Equal(t, want, *we)
}

// testExactlyOnce races several shippers of the same peer changelog, as after
// a failover when an old shipper has not noticed it was replaced. Each
// applies every batch in order and moves on when the store says the batch
// is a duplicate or does not continue the watermark. However they
// interleave, every batch must take effect exactly once.
func (s suite) testExactlyOnce(t *testing.T) {
	const racers, n = 4, 20
	st := s.store(t, regionA)
	require.NoError(t, st.DefineTable(t.Context(), "log", appendValues))

	through := func(i int) xregion.Position { return pos(uint64(100+10*i), uint32(i%3)) }
	batches := make([]xregion.Batch, n)
	var want strings.Builder
	for i := range batches {
		after := pos(0, 0)
		if i > 0 {
			after = through(i - 1)
		}
		v := fmt.Sprintf("%d,", i)
		want.WriteString(v)
		batches[i] = peerBatch(regionB, after, through(i),
			wr("log", rec("k1", v, ver(int64(i+1), regionB))),
			wr("log", rec("k2", v, ver(int64(i+1), regionB))),
		)
	}

	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		applied [n]atomic.Int32
		errs    = make(chan error, racers)
	)
	for g := range racers {
		wg.Go(func() {
			<-start
			for i, b := range batches {
				res, err := st.Apply(t.Context(), b)
				switch {
				case err == nil:
					if !res.Duplicate {
						applied[i].Add(1)
					}
				case errors.Is(err, xregion.ErrWatermark):
				default:
					errs <- fmt.Errorf("shipper %d, batch %d: %w", g, i, err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	for i := range applied {
		require.EqualValues(t, 1, applied[i].Load(), "batch %d reported applied (not Duplicate) this many times", i)
	}
	requireWatermark(t, st, regionB, through(n-1))
	require.Equal(t, want.String(), string(get(t, st, "log", "k1").Value))
	require.Equal(t, want.String(), string(get(t, st, "log", "k2").Value))
	cs, _ := drain(t, st, xregion.Position{})
	require.Len(t, cs, 2*n, "changelog entries")
}
