package storetest

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// The regions the suite plays. regionA is the store under test unless a
// subtest says otherwise; the others are its peers.
const (
	regionA xregion.Region = "region-a"
	regionB xregion.Region = "region-b"
	regionC xregion.Region = "region-c"
)

// Run runs the Store contract against stores made by newStore. newStore must
// return a new, empty store for the given region each time it is called (a
// subtest may create two to act as two regions); it should register any
// cleanup with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T, region xregion.Region) xregion.Store) {
	t.Helper()
	s := suite{newStore: newStore}
	t.Run("Region", s.testRegion)
	t.Run("DefineTable", s.testDefineTable)
	t.Run("Get", s.testGet)
	t.Run("Apply", s.testApply)
	t.Run("Changes", s.testChanges)
	t.Run("Watermark", s.testWatermark)
	t.Run("Ledger", s.testLedger)
	t.Run("Backlog", s.testBacklog)
	t.Run("Positions", s.testPositions)
	t.Run("Stage", s.testStage)
	t.Run("Retention", s.testRetention)
	t.Run("Lease", s.testLease)
	t.Run("Digest", s.testDigest)
	t.Run("Context", s.testContext)
}

type suite struct {
	newStore func(t *testing.T, region xregion.Region) xregion.Store
}

// store returns a new store for region with the given tables defined with
// the suite's last-write-wins resolver.
func (s suite) store(t *testing.T, region xregion.Region, tables ...string) xregion.Store {
	t.Helper()
	st := s.newStore(t, region)
	require.NotNil(t, st, "newStore returned a nil Store")
	for _, name := range tables {
		require.NoError(t, st.DefineTable(t.Context(), name, lww), "define table %q", name)
	}
	return st
}

func (s suite) testRegion(t *testing.T) {
	for _, r := range []xregion.Region{regionA, regionB} {
		require.Equal(t, r, s.newStore(t, r).Region())
	}
}

// baseWall puts every version the suite makes in November 2023, so that
// versions look like real HLC readings but stay far from any limit.
const baseWall = 1_700_000_000_000_000_000

// ver returns the version stamped n nanoseconds after baseWall in region r.
func ver(n int64, r xregion.Region) xregion.Version {
	return xregion.Version{Time: xregion.Timestamp{WallTime: baseWall + n}, Region: r}
}

// pos returns a changelog position; pos(0, 0) is the zero Position.
func pos(tx uint64, index uint32) xregion.Position { return xregion.Position{Tx: tx, Index: index} }

func rec(key, value string, v xregion.Version) xregion.Record {
	return xregion.Record{Key: key, Value: []byte(value), Version: v}
}

func based(r xregion.Record, base xregion.Version) xregion.Record {
	r.Base = base
	return r
}

func wr(table string, r xregion.Record) xregion.Write { return xregion.Write{Table: table, Record: r} }

func local(writes ...xregion.Write) xregion.Batch { return xregion.Batch{Writes: writes} }

func apply(t *testing.T, st xregion.Store, b xregion.Batch) xregion.Result {
	t.Helper()
	res, err := st.Apply(t.Context(), b)
	require.NoError(t, err)
	return res
}

func get(t *testing.T, st xregion.Store, table, key string) xregion.Record {
	t.Helper()
	r, err := st.Get(t.Context(), table, key)
	require.NoError(t, err, "get %s %q", table, key)
	return r
}

func requireNotFound(t *testing.T, st xregion.Store, table, key string) {
	t.Helper()
	r, err := st.Get(t.Context(), table, key)
	require.ErrorIs(t, err, xregion.ErrNotFound, "get %s %q returned %+v", table, key, r)
}

func requireWatermark(t *testing.T, st xregion.Store, peer xregion.Region, want xregion.Position) {
	t.Helper()
	got, err := st.Watermark(t.Context(), peer)
	require.NoError(t, err)
	require.Equal(t, want, got, "watermark for %s", peer)
}

// requireRecord compares every field, counting a nil and an empty Value
// equal as Record.Equal does, but with a readable diff.
func requireRecord(t *testing.T, want, got xregion.Record, msgAndArgs ...any) {
	t.Helper()
	require.Equal(t, normal(want), normal(got), msgAndArgs...)
}

func normal(r xregion.Record) xregion.Record {
	if len(r.Value) == 0 {
		r.Value = nil
	}
	return r
}

// barrierTable holds the marker records drain writes. Its name is long and
// odd so that it collides with no table a subtest defines.
const barrierTable = "storetest_barrier"

var barrierSeq atomic.Int64

// visibilityTimeout bounds how long drain waits for a committed change to
// become readable. A store may hold changes back while an older transaction
// is open (the outbox rule of Store.Changes), even one of another test, so
// the wait is generous: it only runs out when a store never shows a change.
const visibilityTimeout = 30 * time.Second

// drain returns every change after `after` that was committed before drain
// was called, oldest first, leaving out drain's own markers, and the position
// of the marker it wrote.
//
// A store need not show a change the moment Apply returns, so reading once
// could miss one; and waiting until "enough" changes have appeared could not
// catch a store that shows too many. Instead drain commits a marker write
// and reads until the marker appears: changes committed before it are
// ordered before it and, by the contract of Changes, visible by the time it
// is. What drain returns is then exactly the changelog up to that point.
func drain(t *testing.T, st xregion.Store, after xregion.Position) ([]xregion.Change, xregion.Position) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, st.DefineTable(ctx, barrierTable, lww))
	key := fmt.Sprintf("barrier-%d", barrierSeq.Add(1))
	apply(t, st, local(wr(barrierTable, rec(key, "", ver(1, st.Region())))))

	var out []xregion.Change
	deadline := time.Now().Add(visibilityTimeout)
	for {
		cs, err := st.Changes(ctx, xregion.ChangeQuery{After: after, Limit: 500})
		require.NoError(t, err)
		for _, c := range cs {
			require.True(t, after.Less(c.Pos), "Changes returned position %s after asking for those after %s", c.Pos, after)
			after = c.Pos
			if c.Table != barrierTable {
				out = append(out, c)
			} else if c.Record.Key == key {
				return out, c.Pos
			}
		}
		if len(cs) == 0 {
			require.False(t, time.Now().After(deadline),
				"a change committed %s ago is still not returned by Changes; it must appear once no open transaction precedes it", visibilityTimeout)
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// keys lists "table/key" for each change, in order.
func keys(cs []xregion.Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Table + "/" + c.Record.Key
	}
	return out
}

// requireEmptyChangelog checks that nothing but drain's markers was ever
// appended.
func requireEmptyChangelog(t *testing.T, st xregion.Store) {
	t.Helper()
	cs, _ := drain(t, st, xregion.Position{})
	require.Empty(t, keys(cs), "changelog")
}

func lostUpdates(t *testing.T, st xregion.Store) []xregion.LostUpdate {
	t.Helper()
	lus, err := st.LostUpdates(t.Context(), 0, xregion.MaxChangeLimit)
	require.NoError(t, err)
	return lus
}
