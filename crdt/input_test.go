package crdt_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/crdt"
)

// notStates are values of the State interface that are not states: nil,
// and pointers to states, which have their values' methods. Every entry
// point that takes a State refuses them with an *xregion.InvalidError
// rather than panic.
func notStates() map[string]crdt.State {
	g := crdt.GCounter{}
	return map[string]crdt.State{
		"nil":         nil,
		"nil pointer": (*crdt.GCounter)(nil),
		"pointer":     &g,
	}
}

func requireInvalid(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, xregion.ErrInvalid)
	var ie *xregion.InvalidError
	require.ErrorAs(t, err, &ie)
}

func TestMerge_NotAState(t *testing.T) {
	g, err := crdt.GCounter{}.Inc(east, 1)
	require.NoError(t, err)
	for name, s := range notStates() {
		t.Run(name, func(t *testing.T) {
			for _, args := range [][2]crdt.State{{s, s}, {s, g}, {g, s}} {
				var m crdt.State
				require.NotPanics(t, func() { m, err = crdt.Merge(args[0], args[1]) })
				requireInvalid(t, err)
				require.Nil(t, m)
			}
		})
	}
}

func TestEncode_NotAState(t *testing.T) {
	for name, s := range notStates() {
		t.Run(name, func(t *testing.T) {
			var (
				b   []byte
				err error
			)
			require.NotPanics(t, func() { b, err = crdt.Encode(s) })
			requireInvalid(t, err)
			require.Nil(t, b)

			require.NotPanics(t, func() { b, err = crdt.AppendEncode([]byte("prefix"), s) })
			requireInvalid(t, err)
			require.Equal(t, "prefix", string(b), "AppendEncode leaves b as it was")
		})
	}
}

func TestEqual_NotAState(t *testing.T) {
	require.True(t, crdt.Equal(nil, nil))
	for name, s := range notStates() {
		t.Run(name, func(t *testing.T) {
			require.NotPanics(t, func() {
				require.False(t, crdt.Equal(s, crdt.GCounter{}))
				require.False(t, crdt.Equal(crdt.GCounter{}, s))
			})
		})
	}
}

func TestWrite_NotAState(t *testing.T) {
	clock, err := xregion.NewClock(xregion.SystemClock{})
	require.NoError(t, err)
	for name, s := range notStates() {
		t.Run(name, func(t *testing.T) {
			var rec xregion.Record
			require.NotPanics(t, func() { rec, err = crdt.Write(clock, east, "k", xregion.Version{}, s) })
			requireInvalid(t, err)
			require.Zero(t, rec)
		})
	}
}

func TestORMap_UpdateNotAState(t *testing.T) {
	for name, s := range notStates() {
		t.Run(name, func(t *testing.T) {
			var (
				d   crdt.ORMap
				err error
			)
			require.NotPanics(t, func() { d, err = crdt.ORMap{}.Update(east, "f", s) })
			requireInvalid(t, err)
			require.Zero(t, d.Len())
		})
	}
}

// TestResolver_Zero: a Resolver not made by NewResolver has no clock to
// fold versions into; it refuses every record instead of panicking.
func TestResolver_Zero(t *testing.T) {
	g, err := crdt.GCounter{}.Inc(east, 1)
	require.NoError(t, err)
	value, err := crdt.Encode(g)
	require.NoError(t, err)
	in := xregion.Record{Key: "k", Value: value, Version: xregion.Version{Time: xregion.Timestamp{WallTime: 1}, Region: east}}
	for name, r := range map[string]*crdt.Resolver{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			var res xregion.Resolution
			require.NotPanics(t, func() { res, err = r.Resolve(xregion.Record{}, in) })
			requireInvalid(t, err)
			require.ErrorContains(t, err, "crdt.NewResolver")
			require.Zero(t, res)
		})
	}
}
