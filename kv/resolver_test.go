package kv_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/kv"
)

func TestNewResolver_Nil(t *testing.T) {
	for name, inner := range map[string]xregion.Resolver{"nil": nil, "nil func": xregion.ResolverFunc(nil)} {
		t.Run(name, func(t *testing.T) {
			r, err := kv.NewResolver(inner)
			require.Nil(t, r)
			require.ErrorIs(t, err, xregion.ErrInvalid)
		})
	}
	var zero kv.Resolver
	for name, r := range map[string]*kv.Resolver{"zero": &zero, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { _, err = r.Resolve(xregion.Record{}, xregion.Record{Key: "k"}) })
			require.ErrorIs(t, err, xregion.ErrInvalid)
		})
	}
}

func version(ms int64, region xregion.Region) xregion.Version {
	return xregion.Version{Time: xregion.Timestamp{WallTime: t0.Add(time.Duration(ms) * time.Millisecond).UnixNano()}, Region: region}
}

// TestResolver_Resolve: records that are not this Table's writes in flight
// are the inner resolver's, but a delete that loses to a concurrent delete
// is not reported.
func TestResolver_Resolve(t *testing.T) {
	clock := newClock(t, xregion.NewManualClock(t0.Add(time.Hour)))
	r, err := kv.NewResolver(newLWW(t, clock))
	require.NoError(t, err)
	base := xregion.Record{Key: "ns/k", Value: []byte("v"), Version: version(1, "a")}
	tombA := xregion.Record{Key: "ns/k", Tombstone: true, Version: version(2, "a"), Base: base.Version}
	tombB := xregion.Record{Key: "ns/k", Tombstone: true, Version: version(3, "b"), Base: base.Version}
	valueB := xregion.Record{Key: "ns/k", Value: []byte("w"), Version: version(3, "b"), Base: base.Version}

	for _, c := range []struct {
		name          string
		local, in     xregion.Record
		changed, lost bool
	}{
		{"a stale write arriving from a peer is inner's to drop", tombA, xregion.Record{Key: "ns/k", Value: []byte("old"), Version: version(1, "b")}, false, true},
		{"delete over a concurrent delete", tombA, tombB, true, false},
		{"delete under a concurrent delete", tombB, tombA, false, false},
		{"value over a concurrent delete", tombA, valueB, true, true},
		{"delete under a concurrent value", valueB, tombA, false, true},
		{"replay", tombB, tombB, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := r.Resolve(c.local, c.in)
			require.NoError(t, err)
			require.Equal(t, c.changed, res.Changed)
			require.Equal(t, c.lost, res.Lost != nil)
		})
	}
}
