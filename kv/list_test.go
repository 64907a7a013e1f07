package kv_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/kv"
)

func keysOf(es []kv.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}

func TestTable_List(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T, ...xregion.Region) []*region) {
		a := open(t, "a")[0]
		ctx := t.Context()
		for _, k := range []string{"2026/06/02.csv", "2026/06/01.csv", "2026/05/31.csv", "readme", "2026/06/03.csv"} {
			mustPut(t, a.kv, "exports", k, "data of "+k)
		}
		mustPut(t, a.kv, "imports", "2026/06/01.csv", "not an export")
		mustPut(t, a.kv, "exports", "2026/06/04.csv", "expires", kv.TTL(time.Minute))
		mustPut(t, a.kv, "exports", "2026/06/05.csv", "removed")
		require.NoError(t, a.kv.Remove(ctx, "exports", "2026/06/05.csv"))
		mustPut(t, a.kv, "exports2", "x", "another namespace that starts alike")

		list := func(q kv.ListQuery) []string {
			t.Helper()
			es, err := a.kv.List(ctx, "exports", q)
			require.NoError(t, err)
			for _, e := range es {
				require.Equal(t, "exports", e.Namespace)
				require.Equal(t, "data of "+e.Key, string(e.Value), "values come with the keys")
			}
			return keysOf(es)
		}
		all := []string{"2026/05/31.csv", "2026/06/01.csv", "2026/06/02.csv", "2026/06/03.csv", "readme"}
		advance(time.Minute, a)
		require.Equal(t, all, list(kv.ListQuery{Limit: 100}), "in key order, without expired or removed entries")
		require.Equal(t, all[1:4], list(kv.ListQuery{Prefix: "2026/06/", Limit: 100}))
		require.Equal(t, all[:2], list(kv.ListQuery{Limit: 2}))
		require.Equal(t, all[2:4], list(kv.ListQuery{After: all[1], Limit: 2}), "the next page")
		require.Equal(t, all[4:], list(kv.ListQuery{After: all[3], Limit: 2}))
		require.Empty(t, list(kv.ListQuery{After: all[4], Limit: 2}))
		require.Empty(t, list(kv.ListQuery{Prefix: "2027/", Limit: 2}))

		for _, q := range []kv.ListQuery{{Limit: 0}, {Limit: kv.MaxListLimit + 1}} {
			_, err := a.kv.List(ctx, "exports", q)
			require.ErrorIs(t, err, xregion.ErrInvalid)
		}
		_, err := a.kv.List(ctx, "a/b", kv.ListQuery{Limit: 1})
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})
}

// narrow is a store whose KeyDigests refuses ranges holding more than max
// keys, as a store refuses more than xregion.MaxChangeLimit: List must cut
// the hash space until every answer fits.
type narrow struct {
	xregion.Store
	d     xregion.Digester
	max   int
	calls int
}

func (n *narrow) KeyDigests(ctx context.Context, table string, ranges []xregion.KeyRange) ([]xregion.KeyDigest, error) {
	n.calls++
	kds, err := n.d.KeyDigests(ctx, table, ranges)
	if err == nil && len(kds) > n.max {
		return nil, &xregion.InvalidError{What: "key ranges", Reason: "too many records"}
	}
	return kds, err
}

func (n *narrow) Digests(ctx context.Context, table string, ranges []xregion.KeyRange) ([]xregion.RangeDigest, error) {
	return n.d.Digests(ctx, table, ranges)
}

func (n *narrow) Records(ctx context.Context, table string, keys []string) ([]xregion.Record, error) {
	return n.d.Records(ctx, table, keys)
}

func TestTable_ListLargeTable(t *testing.T) {
	a := memRegions(t, "a")[0]
	st := &narrow{Store: a.store, d: a.store.(xregion.Digester), max: 40}
	a.store = st
	tb := newTable(t, a)
	var want []string
	for i := range 500 {
		k := fmt.Sprintf("k%04d", i)
		mustPut(t, tb, "ns", k, "data of "+k)
		want = append(want, k)
	}
	es, err := tb.List(t.Context(), "ns", kv.ListQuery{Limit: kv.MaxListLimit})
	require.NoError(t, err)
	require.Equal(t, want, keysOf(es))
	require.Greater(t, st.calls, 16, "the hash space was cut")
}

// bare is a Store and nothing more: it cannot enumerate keys.
type bare struct{ xregion.Store }

func TestTable_ListUnsupported(t *testing.T) {
	a := memRegions(t, "a")[0]
	a.store = bare{a.store}
	tb := newTable(t, a)
	_, err := tb.List(t.Context(), "ns", kv.ListQuery{Limit: 1})
	require.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
	_, err = tb.Sweep(t.Context(), 1)
	require.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
}
