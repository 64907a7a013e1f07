package storetest

import (
	"cmp"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// testDigest checks xregion.Digester, for stores that offer it. Digests are
// checked against xregion.KeyHash and xregion.RowHash computed here, so two
// stores that pass agree with each other: the same records give the same
// digest in every store.
func (s suite) testDigest(t *testing.T) {
	if _, ok := s.newStore(t, regionA).(xregion.Digester); !ok {
		t.Skip("the store does not implement xregion.Digester")
	}
	digester := func(t *testing.T) (xregion.Store, xregion.Digester) {
		st := s.store(t, regionA, "t", "other")
		return st, st.(xregion.Digester)
	}
	// The records every subtest starts from: values empty and not, a
	// tombstone, an epoch (the highest there is), a key of many bytes
	// and one from another region.
	records := []xregion.Record{
		rec("k1", "one", ver(1, regionA)),
		rec("k2", "", ver(2, regionA)),
		{Key: "k3", Version: ver(3, regionA), Tombstone: true},
		{Key: "k4", Value: []byte{0, 1, 0xff}, Version: ver(4, regionB), Epoch: 1<<63 - 1},
		rec("ключ-5", "five", xregion.Version{Time: xregion.Timestamp{WallTime: baseWall, Logical: 7}, Region: regionC}),
	}
	for i := range 40 {
		records = append(records, rec("bulk-"+string(rune('a'+i%26))+string(rune('a'+i/26)), "v", ver(int64(10+i), regionA)))
	}
	load := func(t *testing.T, st xregion.Store) {
		var ws []xregion.Write
		for _, r := range records {
			ws = append(ws, wr("t", r))
		}
		apply(t, st, xregion.Batch{From: regionB, Writes: ws})
	}
	want := xregion.Digest
	digests := func(t *testing.T, d xregion.Digester, ranges []xregion.KeyRange) []xregion.RangeDigest {
		t.Helper()
		got, err := d.Digests(t.Context(), "t", ranges)
		require.NoError(t, err)
		return got
	}

	t.Run("Empty", func(t *testing.T) {
		_, d := digester(t)
		require.Equal(t, []xregion.RangeDigest{{Range: xregion.AllKeys}}, digests(t, d, []xregion.KeyRange{xregion.AllKeys}))
	})

	t.Run("SameRecordsSameDigests", func(t *testing.T) {
		st, d := digester(t)
		load(t, st)
		for _, n := range []int{1, 3, 16, 1024} {
			ranges := xregion.AllKeys.Split(n)
			require.Equal(t, want(records, ranges), digests(t, d, ranges), "%d ranges", n)
		}
		// Ranges need not cover the space, nor be wide.
		var sparse []xregion.KeyRange
		for _, r := range records[:5] {
			h := xregion.KeyHash(r.Key)
			sparse = append(sparse, xregion.KeyRange{Lo: h, Hi: h})
		}
		slices.SortFunc(sparse, func(a, b xregion.KeyRange) int { return cmp.Compare(a.Lo, b.Lo) })
		got := digests(t, d, sparse)
		require.Equal(t, want(records, sparse), got)
		for _, g := range got {
			require.EqualValues(t, 1, g.Count, "range %s holds one key", g.Range)
		}
		other, err := d.Digests(t.Context(), "other", []xregion.KeyRange{xregion.AllKeys})
		require.NoError(t, err)
		require.Zero(t, other[0].Count, "digests are per table")
	})

	t.Run("OneChangeChangesItsRangeOnly", func(t *testing.T) {
		ranges := xregion.AllKeys.Split(16)
		for _, change := range []struct {
			name string
			mod  func(r xregion.Record) xregion.Record
		}{
			{"version", func(r xregion.Record) xregion.Record { r.Version.Time.Logical++; return r }},
			{"origin", func(r xregion.Record) xregion.Record { r.Version.Region = regionC; return r }},
			{"value", func(r xregion.Record) xregion.Record { r.Value = []byte("other"); return r }},
			{"tombstone", func(r xregion.Record) xregion.Record { r.Tombstone, r.Value = true, nil; return r }},
			{"epoch", func(r xregion.Record) xregion.Record { r.Epoch++; return r }},
		} {
			t.Run(change.name, func(t *testing.T) {
				st, d := digester(t)
				load(t, st)
				before := digests(t, d, ranges)
				// A store resolves writes by version: a changed record is
				// written over its old self with a replacing resolver.
				changed := change.mod(records[0])
				require.NoError(t, st.DefineTable(t.Context(), "t", replace))
				apply(t, st, local(wr("t", changed)))
				after := digests(t, d, ranges)
				i, _ := xregion.FindRange(ranges, xregion.KeyHash(changed.Key))
				for j := range ranges {
					if j == i {
						require.NotEqual(t, before[j].Hash, after[j].Hash, "the range of the changed key")
						require.Equal(t, before[j].Count, after[j].Count)
					} else {
						require.Equal(t, before[j], after[j], "range %d does not hold the key", j)
					}
				}
				all := slices.Clone(records)
				all[0] = changed
				require.Equal(t, want(all, ranges), after)
			})
		}
	})

	t.Run("KeyDigests", func(t *testing.T) {
		st, d := digester(t)
		load(t, st)
		ranges := xregion.AllKeys.Split(8)
		pick := []xregion.KeyRange{ranges[1], ranges[2], ranges[6]}
		var wantKeys []xregion.KeyDigest
		for _, r := range records {
			if _, ok := xregion.FindRange(pick, xregion.KeyHash(r.Key)); ok {
				wantKeys = append(wantKeys, xregion.KeyDigest{Key: r.Key, Version: r.Version, Hash: xregion.RowHash(r)})
			}
		}
		slices.SortFunc(wantKeys, func(a, b xregion.KeyDigest) int {
			return cmp.Or(cmp.Compare(xregion.KeyHash(a.Key), xregion.KeyHash(b.Key)), cmp.Compare(a.Key, b.Key))
		})
		require.NotEmpty(t, wantKeys)
		got, err := d.KeyDigests(t.Context(), "t", pick)
		require.NoError(t, err)
		require.Equal(t, wantKeys, got)
	})

	t.Run("Records", func(t *testing.T) {
		st, d := digester(t)
		load(t, st)
		got, err := d.Records(t.Context(), "t", []string{"k4", "missing", "k3", "k1", "ключ-5"})
		require.NoError(t, err)
		require.Len(t, got, 4, "a key never written is left out")
		for i, want := range []xregion.Record{records[3], records[2], records[0], records[4]} {
			requireRecord(t, want, got[i])
		}
		none, err := d.Records(t.Context(), "t", nil)
		require.NoError(t, err)
		require.Empty(t, none)
	})

	t.Run("BadInput", func(t *testing.T) {
		_, d := digester(t)
		all := []xregion.KeyRange{xregion.AllKeys}
		_, err := d.Digests(t.Context(), "nope", all)
		require.ErrorIs(t, err, xregion.ErrUnknownTable)
		_, err = d.KeyDigests(t.Context(), "nope", all)
		require.ErrorIs(t, err, xregion.ErrUnknownTable)
		_, err = d.Records(t.Context(), "nope", []string{"k"})
		require.ErrorIs(t, err, xregion.ErrUnknownTable)
		for name, bad := range map[string][]xregion.KeyRange{
			"none":         nil,
			"upside down":  {{Lo: 5, Hi: 4}},
			"overlapping":  {{Lo: 0, Hi: 10}, {Lo: 10, Hi: 20}},
			"out of order": {{Lo: 20, Hi: 30}, {Lo: 0, Hi: 10}},
			"too many":     xregion.AllKeys.Split(xregion.MaxDigestRanges + 1),
		} {
			_, err := d.Digests(t.Context(), "t", bad)
			require.ErrorIs(t, err, xregion.ErrInvalid, name)
			_, err = d.KeyDigests(t.Context(), "t", bad)
			require.ErrorIs(t, err, xregion.ErrInvalid, name)
		}
		_, err = d.Records(t.Context(), "t", make([]string, xregion.MaxChangeLimit+1))
		require.ErrorIs(t, err, xregion.ErrInvalid)
	})
}
