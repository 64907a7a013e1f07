package storetest

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func (s suite) testApply(t *testing.T) {
	t.Run("NewerReplaces", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		v1 := rec("k", "v1", ver(1, regionA))
		v2 := based(rec("k", "v2", ver(2, regionA)), v1.Version)
		require.Equal(t, xregion.Result{Applied: 1}, apply(t, st, local(wr("t", v1))))
		require.Equal(t, xregion.Result{Applied: 1}, apply(t, st, local(wr("t", v2))))
		requireRecord(t, v2, get(t, st, "t", "k"))
	})

	t.Run("OlderUnchanged", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		v1 := rec("k", "v1", ver(1, regionA))
		v2 := rec("k", "v2", ver(2, regionA))
		apply(t, st, local(wr("t", v2)))
		require.Equal(t, xregion.Result{Unchanged: 1}, apply(t, st, local(wr("t", v1))), "older write")
		require.Equal(t, xregion.Result{Unchanged: 1}, apply(t, st, local(wr("t", v2))), "same write again")
		requireRecord(t, v2, get(t, st, "t", "k"))
	})

	t.Run("ResultCounts", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		apply(t, st, local(
			wr("t", rec("k1", "old", ver(5, regionA))),
			wr("t", rec("k2", "old", ver(5, regionA))),
		))
		res := apply(t, st, local(
			wr("t", rec("k1", "new", ver(6, regionA))),   // replaces
			wr("t", rec("k2", "older", ver(4, regionA))), // loses
			wr("t", rec("k2", "old", ver(5, regionA))),   // already held
			wr("t", rec("k3", "new", ver(1, regionA))),   // first write
		))
		require.Equal(t, xregion.Result{Applied: 2, Unchanged: 2}, res)
	})

	t.Run("Empty", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		require.Equal(t, xregion.Result{}, apply(t, st, local()))
		requireEmptyChangelog(t, st)
	})

	t.Run("Tombstone", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		live := rec("k", "v", ver(1, regionA))
		del := xregion.Record{Key: "k", Version: ver(2, regionA), Base: live.Version, Tombstone: true}
		apply(t, st, local(wr("t", live)))
		require.Equal(t, xregion.Result{Applied: 1}, apply(t, st, local(wr("t", del))))
		got, err := st.Get(t.Context(), "t", "k")
		require.NoError(t, err, "a deleted key returns its tombstone, not ErrNotFound")
		require.True(t, got.Tombstone)
		require.Empty(t, got.Value)
		requireRecord(t, del, got)

		// A delete of a key never written here is stored too: it must win
		// against an older write that arrives later.
		blind := xregion.Record{Key: "never", Version: ver(5, regionB), Tombstone: true}
		apply(t, st, local(wr("t", blind)))
		requireRecord(t, blind, get(t, st, "t", "never"))
		require.Equal(t, xregion.Result{Unchanged: 1}, apply(t, st, local(wr("t", rec("never", "late", ver(4, regionB))))))

		// Writing on top of the tombstone brings the key back.
		again := based(rec("k", "again", ver(3, regionA)), del.Version)
		require.Equal(t, xregion.Result{Applied: 1}, apply(t, st, local(wr("t", again))))
		requireRecord(t, again, get(t, st, "t", "k"))
	})

	t.Run("SameKeyTwice", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		require.NoError(t, st.DefineTable(t.Context(), "log", appendValues))

		v1 := rec("up", "v1", ver(1, regionA))
		v2 := rec("up", "v2", ver(2, regionA))
		require.Equal(t, xregion.Result{Applied: 2}, apply(t, st, local(wr("t", v1), wr("t", v2))))
		requireRecord(t, v2, get(t, st, "t", "up"))

		// The second write loses to the first, which it can only do if it
		// is resolved against it rather than against the empty key.
		require.Equal(t, xregion.Result{Applied: 1, Unchanged: 1},
			apply(t, st, local(wr("t", rec("down", "v2", ver(2, regionA))), wr("t", rec("down", "v1", ver(1, regionA))))))
		require.Equal(t, "v2", string(get(t, st, "t", "down").Value))

		apply(t, st, local(
			wr("log", rec("k", "a", ver(1, regionA))),
			wr("log", rec("k", "b", ver(2, regionA))),
			wr("log", rec("k", "c", ver(3, regionA))),
		))
		require.Equal(t, "abc", string(get(t, st, "log", "k").Value))

		cs, _ := drain(t, st, xregion.Position{})
		require.Equal(t, []string{"t/up", "t/up", "t/down", "log/k", "log/k", "log/k"}, keys(cs))
		require.Equal(t, "ab", string(cs[4].Record.Value))
	})

	t.Run("SeveralTables", func(t *testing.T) {
		st := s.store(t, regionA, "t1", "t2")
		one := rec("k", "one", ver(1, regionA))
		two := rec("k", "two", ver(2, regionA))
		j := rec("j", "j", ver(3, regionA))
		require.Equal(t, xregion.Result{Applied: 3}, apply(t, st, local(wr("t1", one), wr("t2", two), wr("t1", j))))
		requireRecord(t, one, get(t, st, "t1", "k"))
		requireRecord(t, two, get(t, st, "t2", "k"))
		requireRecord(t, j, get(t, st, "t1", "j"))
		requireNotFound(t, st, "t2", "j")
	})

	t.Run("UnknownTable", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		_, err := st.Apply(t.Context(), local(
			wr("t", rec("k", "v", ver(1, regionA))),
			wr("nosuch", rec("k", "v", ver(1, regionA))),
		))
		require.ErrorIs(t, err, xregion.ErrUnknownTable)
		require.Contains(t, err.Error(), "nosuch", "the error names the table")
		requireNotFound(t, st, "t", "k")
		requireEmptyChangelog(t, st)
	})

	t.Run("InvalidRecord", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		v := ver(1, regionA)
		cases := []struct {
			name string
			w    xregion.Write
		}{
			{"empty key", wr("t", rec("", "v", v))},
			{"key with NUL", wr("t", rec("a\x00b", "v", v))},
			{"key not UTF-8", wr("t", rec("a\xffb", "v", v))},
			{"key too long", wr("t", rec(strings.Repeat("k", xregion.MaxKeyLen+1), "v", v))},
			{"value too long", wr("t", xregion.Record{Key: "k", Value: make([]byte, xregion.MaxValueLen+1), Version: v})},
			{"tombstone with value", wr("t", xregion.Record{Key: "k", Value: []byte("v"), Version: v, Tombstone: true})},
			{"zero version", wr("t", rec("k", "v", xregion.Version{}))},
			{"version without region", wr("t", rec("k", "v", ver(1, "")))},
			{"bad version region", wr("t", rec("k", "v", ver(1, "US-East")))},
			{"bad base region", wr("t", based(rec("k", "v", v), ver(1, "US-East")))},
			{"base not before version", wr("t", based(rec("k", "v", v), ver(1, regionB)))},
			{"epoch above MaxInt64", wr("t", xregion.Record{Key: "k", Version: v, Epoch: math.MaxInt64 + 1})},
			{"bad table name", wr("Bad", rec("k", "v", v))},
		}
		for _, c := range cases {
			t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
				good := rec("good", "v", v)
				_, err := st.Apply(t.Context(), local(wr("t", good), c.w))
				require.ErrorIs(t, err, xregion.ErrInvalid)
				requireNotFound(t, st, "t", "good")
			})
		}
		requireEmptyChangelog(t, st)
	})

	t.Run("ResolverError", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		require.NoError(t, st.DefineTable(t.Context(), "r", refusing))
		before := rec("held", "before", ver(1, regionA))
		apply(t, st, local(wr("r", before)))
		cs, mark := drain(t, st, xregion.Position{})
		require.Len(t, cs, 1)

		_, err := st.Apply(t.Context(), local(
			wr("t", rec("other", "v", ver(2, regionA))),
			wr("r", rec("held", "after", ver(2, regionA))),
			wr("r", rec("refused", "refuse", ver(2, regionA))),
			wr("r", rec("late", "v", ver(2, regionA))),
		))
		require.ErrorIs(t, err, errRefused, "Apply must pass the Resolver's error on")

		requireNotFound(t, st, "t", "other")
		requireRecord(t, before, get(t, st, "r", "held"))
		requireNotFound(t, st, "r", "refused")
		requireNotFound(t, st, "r", "late")
		cs, _ = drain(t, st, mark)
		require.Empty(t, keys(cs), "changes appended by a failed batch")
	})
}
