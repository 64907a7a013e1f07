package memstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/store/memstore"
	"github.com/xregion/xregion/store/storetest"
)

func TestStore_Contract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, region xregion.Region) xregion.Store {
		s, err := memstore.New(region)
		require.NoError(t, err)
		return s
	})
}

func TestNew(t *testing.T) {
	for _, region := range []xregion.Region{"", "US-East", "-a"} {
		_, err := memstore.New(region)
		require.ErrorIs(t, err, xregion.ErrInvalid, "region %q", region)
	}
	_, err := memstore.New("us-east-1", memstore.WithWallClock(nil))
	require.ErrorIs(t, err, xregion.ErrInvalid)
}

// lastWins takes every write and reports what it replaced as lost.
var lastWins = xregion.ResolverFunc(func(local, incoming xregion.Record) (xregion.Resolution, error) {
	res := xregion.Resolution{Record: incoming, Changed: true}
	if !local.Version.IsZero() {
		res.Lost = &local
	}
	return res, nil
})

func version(n int64, r xregion.Region) xregion.Version {
	return xregion.Version{Time: xregion.Timestamp{WallTime: n}, Region: r}
}

func TestWithWallClock(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := xregion.NewManualClock(start)
	s, err := memstore.New("us-east-1", memstore.WithWallClock(clock))
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, s.DefineTable(ctx, "t", lastWins))

	write := func(n int64) {
		rec := xregion.Record{Key: "k", Value: []byte("v"), Version: version(n, "us-east-1")}
		_, err := s.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "t", Record: rec}}})
		require.NoError(t, err)
	}
	write(1)
	clock.Advance(time.Minute)
	write(2)

	cs, err := s.Changes(ctx, xregion.ChangeQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, cs, 2)
	require.Equal(t, start, cs[0].Time)
	require.Equal(t, start.Add(time.Minute), cs[1].Time)

	lus, err := s.LostUpdates(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, lus, 1)
	require.Equal(t, start.Add(time.Minute), lus[0].At)
}

// Positions are documented in doc.go; other stores number differently, so
// the contract suite does not check this.
func TestStore_Positions(t *testing.T) {
	s, err := memstore.New("us-east-1")
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, s.DefineTable(ctx, "t", lastWins))
	apply := func(keys ...string) {
		var b xregion.Batch
		for _, k := range keys {
			b.Writes = append(b.Writes, xregion.Write{Table: "t", Record: xregion.Record{Key: k, Version: version(1, "us-east-1")}})
		}
		_, err := s.Apply(ctx, b)
		require.NoError(t, err)
	}
	apply("a", "b")
	apply() // appends nothing, takes no Tx
	apply("c")

	cs, err := s.Changes(ctx, xregion.ChangeQuery{Limit: 10})
	require.NoError(t, err)
	var got []xregion.Position
	for _, c := range cs {
		got = append(got, c.Pos)
	}
	require.Equal(t, []xregion.Position{{Tx: 1, Index: 0}, {Tx: 1, Index: 1}, {Tx: 2, Index: 0}}, got)
}

func TestStore_DefineTable(t *testing.T) {
	ctx := t.Context()
	s, err := memstore.New("us-east-1")
	require.NoError(t, err)

	t.Run("NilResolverFunc", func(t *testing.T) {
		var f xregion.ResolverFunc
		require.ErrorIs(t, s.DefineTable(ctx, "t", f), xregion.ErrInvalid)
	})

	t.Run("RedefineReplacesResolver", func(t *testing.T) {
		require.NoError(t, s.DefineTable(ctx, "r", lastWins))
		never := xregion.ResolverFunc(func(local, incoming xregion.Record) (xregion.Resolution, error) {
			return xregion.Resolution{}, nil
		})
		require.NoError(t, s.DefineTable(ctx, "r", never))
		res, err := s.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "r", Record: xregion.Record{Key: "k", Version: version(1, "us-east-1")}}}})
		require.NoError(t, err)
		require.Equal(t, xregion.Result{Unchanged: 1}, res)
	})
}

// A faulty resolver must not store a record under another key or store an
// invalid one; the batch fails instead.
func TestStore_Apply_faultyResolver(t *testing.T) {
	ctx := t.Context()
	for name, out := range map[string]xregion.Record{
		"other key":  {Key: "other", Version: version(1, "us-east-1")},
		"no version": {Key: "k"},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := memstore.New("us-east-1")
			require.NoError(t, err)
			require.NoError(t, s.DefineTable(ctx, "t", xregion.ResolverFunc(func(local, incoming xregion.Record) (xregion.Resolution, error) {
				return xregion.Resolution{Record: out, Changed: true}, nil
			})))
			_, err = s.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "t", Record: xregion.Record{Key: "k", Version: version(1, "us-east-1")}}}})
			require.Error(t, err)
			_, err = s.Get(ctx, "t", "other")
			require.ErrorIs(t, err, xregion.ErrNotFound)
			_, err = s.Get(ctx, "t", "k")
			require.ErrorIs(t, err, xregion.ErrNotFound)
		})
	}
}
