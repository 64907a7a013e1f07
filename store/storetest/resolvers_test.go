package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// The suite's expectations are only as good as its resolvers, so they get
// their own event table.
func TestLWW(t *testing.T) {
	a1 := rec("k", "a1", ver(10, regionA))
	b2 := rec("k", "b2", ver(20, regionB))
	b2onA1 := based(b2, a1.Version)
	a3 := rec("k", "a3", ver(30, regionA))
	for _, c := range []struct {
		name            string
		local, incoming xregion.Record
		changed         bool
		lost            *xregion.Record
	}{
		{"first write", xregion.Record{}, a1, true, nil},
		{"same write again", a1, a1, false, nil},
		{"concurrent, incoming newer", a1, b2, true, &a1},
		{"concurrent, incoming older", b2, a1, false, &a1},
		{"incoming supersedes what it read", a1, b2onA1, true, nil},
		{"stale write the local one superseded", b2onA1, a1, false, nil},
		{"same region is never concurrent", a1, a3, true, nil},
		{"same region, older", a3, a1, false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := lww(c.local, c.incoming)
			require.NoError(t, err)
			require.Equal(t, c.changed, res.Changed)
			if c.changed {
				requireRecord(t, c.incoming, res.Record)
			}
			require.Equal(t, c.lost, res.Lost)
		})
	}
}

func TestAppendValues(t *testing.T) {
	local := rec("k", "ab", ver(1, regionA))
	res, err := appendValues(local, rec("k", "c", ver(2, regionB)))
	require.NoError(t, err)
	require.True(t, res.Changed)
	require.Equal(t, "abc", string(res.Record.Value))
	require.Equal(t, ver(2, regionB), res.Record.Version)
	require.Equal(t, "ab", string(local.Value), "the stored record was edited")
}

func TestRefusing(t *testing.T) {
	_, err := refusing(xregion.Record{}, rec("k", "refuse", ver(1, regionA)))
	require.ErrorIs(t, err, errRefused)
	res, err := refusing(xregion.Record{}, rec("k", "fine", ver(1, regionA)))
	require.NoError(t, err)
	require.True(t, res.Changed)
}
