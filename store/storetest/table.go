package storetest

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func (s suite) testDefineTable(t *testing.T) {
	t.Run("InvalidName", func(t *testing.T) {
		st := s.store(t, regionA)
		for _, name := range []string{
			"",
			"Orders",
			"1abc",
			"a-b",
			"_a",
			"a b",
			"tablé",
			strings.Repeat("a", xregion.MaxNameLen+1),
			`x"; drop table y`,
		} {
			err := st.DefineTable(t.Context(), name, lww)
			require.ErrorIs(t, err, xregion.ErrInvalid, "DefineTable(%q)", name)
		}
	})

	// The longest valid name must work end to end: a store that decorates
	// names (a prefix, a suffix for an index) can overflow its own limits.
	t.Run("LongestName", func(t *testing.T) {
		name := "t" + strings.Repeat("x", xregion.MaxNameLen-1)
		st := s.store(t, regionA, name)
		r := rec("k", "v", ver(1, regionA))
		apply(t, st, local(wr(name, r)))
		requireRecord(t, r, get(t, st, name, "k"))
	})

	t.Run("NilResolver", func(t *testing.T) {
		st := s.store(t, regionA)
		require.ErrorIs(t, st.DefineTable(t.Context(), "t", nil), xregion.ErrInvalid)
		_, err := st.Get(t.Context(), "t", "k")
		require.ErrorIs(t, err, xregion.ErrUnknownTable, "a refused definition must define nothing")
	})

	t.Run("Idempotent", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		require.NoError(t, st.DefineTable(t.Context(), "t", lww))
		require.NoError(t, st.DefineTable(t.Context(), "t", lww))
		r := rec("k", "v", ver(1, regionA))
		apply(t, st, local(wr("t", r)))
		requireRecord(t, r, get(t, st, "t", "k"))
	})

	t.Run("RedefineKeepsRecords", func(t *testing.T) {
		st := s.store(t, regionA, "t", "other")
		r1 := rec("k", "v1", ver(1, regionA))
		apply(t, st, local(wr("t", r1), wr("other", r1)))

		require.NoError(t, st.DefineTable(t.Context(), "t", lww))
		requireRecord(t, r1, get(t, st, "t", "k"))
		requireRecord(t, r1, get(t, st, "other", "k"))

		// The table still resolves against what it held.
		r2 := rec("k", "v2", ver(2, regionA))
		require.Equal(t, xregion.Result{Applied: 1}, apply(t, st, local(wr("t", r2))))
		require.Equal(t, xregion.Result{Unchanged: 1}, apply(t, st, local(wr("t", r1))))
		requireRecord(t, r2, get(t, st, "t", "k"))
	})
}

func (s suite) testGet(t *testing.T) {
	t.Run("NotFound", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		_, err := st.Get(t.Context(), "t", "absent")
		require.ErrorIs(t, err, xregion.ErrNotFound)
		require.NotErrorIs(t, err, xregion.ErrUnknownTable)

		// A key written in another table is still absent here.
		require.NoError(t, st.DefineTable(t.Context(), "u", lww))
		apply(t, st, local(wr("u", rec("k", "v", ver(1, regionA)))))
		requireNotFound(t, st, "t", "k")
	})

	t.Run("UnknownTable", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		_, err := st.Get(t.Context(), "nosuch", "k")
		require.ErrorIs(t, err, xregion.ErrUnknownTable)
		require.NotErrorIs(t, err, xregion.ErrNotFound)
	})

	t.Run("RoundTrip", func(t *testing.T) {
		binary := make([]byte, 256)
		for i := range binary {
			binary[i] = byte(i)
		}
		farFuture := xregion.Version{
			Time:   xregion.Timestamp{WallTime: 1 << 62, Logical: 1<<31 - 1},
			Region: "ap-southeast-2",
		}
		cases := []struct {
			name string
			rec  xregion.Record
		}{
			{"plain", rec("plain", "value", ver(1, regionA))},
			{"empty value", xregion.Record{Key: "empty", Value: []byte{}, Version: ver(2, regionA)}},
			{"nil value", xregion.Record{Key: "nil", Version: ver(3, regionA)}},
			{"binary value", xregion.Record{Key: "binary", Value: binary, Version: ver(4, regionA)}},
			{"largest value", xregion.Record{Key: "largest", Value: make([]byte, xregion.MaxValueLen), Version: ver(5, regionA)}},
			{"every field", xregion.Record{
				Key:     "every-field",
				Value:   []byte("v"),
				Version: farFuture,
				Base:    xregion.Version{Time: xregion.Timestamp{WallTime: 1, Logical: 7}, Region: regionB},
				Epoch:   math.MaxInt64, // the largest a Record accepts
			}},
			{"unicode key", rec("clé/ü 🚀 \"quoted\" 'single' \\", "v", ver(6, regionC))},
			{"longest key", rec(strings.Repeat("k", xregion.MaxKeyLen), "v", ver(7, regionA))},
			{"tombstone", xregion.Record{Key: "tombstone", Version: ver(8, regionB), Base: ver(1, regionA), Epoch: 3, Tombstone: true}},
		}
		st := s.store(t, regionA, "t")
		for _, c := range cases {
			require.NoError(t, c.rec.Validate(), c.name)
			apply(t, st, local(wr("t", c.rec)))
		}
		for _, c := range cases {
			requireRecord(t, c.rec, get(t, st, "t", c.rec.Key), c.name)
		}
	})

	t.Run("NotAliased", func(t *testing.T) {
		st := s.store(t, regionA, "t")
		value := []byte("original")
		apply(t, st, local(wr("t", xregion.Record{Key: "k", Value: value, Version: ver(1, regionA)})))
		value[0] = 'X'
		require.Equal(t, "original", string(get(t, st, "t", "k").Value), "the store kept the caller's slice")

		got := get(t, st, "t", "k")
		got.Value[0] = 'Y'
		require.Equal(t, "original", string(get(t, st, "t", "k").Value), "Get returned the store's own slice")

		cs, _ := drain(t, st, xregion.Position{})
		require.Len(t, cs, 1)
		cs[0].Record.Value[0] = 'Z'
		cs, _ = drain(t, st, xregion.Position{})
		require.Equal(t, "original", string(cs[0].Record.Value), "Changes returned the store's own slice")
		require.Equal(t, "original", string(get(t, st, "t", "k").Value), "Changes returned the stored record's slice")
	})
}
