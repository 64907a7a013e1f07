package partition_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// guardRecord builds a record of key "k" from fuzzed fields, as a peer might
// send it: any value, version, base, epoch and tombstone flag.
func guardRecord(value []byte, ms int64, region string, baseMs int64, baseRegion string, epoch uint64, tomb bool) xregion.Record {
	at := func(ms int64) int64 { return t0.Add(time.Duration(ms%(1<<40)) * time.Millisecond).UnixNano() }
	r := xregion.Record{Key: "k", Value: value, Epoch: epoch, Tombstone: tomb,
		Version: xregion.Version{Time: xregion.Timestamp{WallTime: at(ms)}, Region: xregion.Region(region)}}
	if baseRegion != "" {
		r.Base = xregion.Version{Time: xregion.Timestamp{WallTime: at(baseMs)}, Region: xregion.Region(baseRegion)}
	}
	return r
}

// FuzzGuard_Resolve settles arbitrary records against a partition homed in
// west at epoch 2: the Guard never panics, refuses only with a typed error,
// gives the same answer from the same state, never applies a record of an
// epoch older than the grant, and quarantines only one of the two records.
func FuzzGuard_Resolve(f *testing.F) {
	f.Add([]byte("v0"), int64(0), "us-east-1", int64(0), "", uint64(1), false, []byte("w"), int64(20), "eu-west-1", int64(0), "us-east-1", uint64(2), false)
	f.Add([]byte("v0"), int64(0), "us-east-1", int64(0), "", uint64(1), false, []byte("stale"), int64(30), "us-east-1", int64(0), "us-east-1", uint64(1), false)
	f.Add([]byte(nil), int64(0), "", int64(0), "", uint64(0), false, []byte("new"), int64(5), "ap-south-1", int64(0), "", uint64(9), true)
	f.Fuzz(func(t *testing.T, lv []byte, lms int64, lreg string, lbms int64, lbreg string, lepoch uint64, ltomb bool,
		iv []byte, ims int64, ireg string, ibms int64, ibreg string, iepoch uint64, itomb bool) {
		local := guardRecord(lv, lms, lreg, lbms, lbreg, lepoch, ltomb)
		if local.Validate() != nil {
			local = xregion.Record{}
		}
		in := guardRecord(iv, ims, ireg, ibms, ibreg, iepoch, itomb)

		g1, _ := newGuard(t, 2, west)
		g2, _ := newGuard(t, 2, west)
		res, err := g1.Resolve(local, in)
		again, err2 := g2.Resolve(local, in)
		require.Equal(t, err == nil, err2 == nil, "the same answer from the same state")
		if err != nil {
			require.True(t, errors.Is(err, xregion.ErrInvalid) || errors.Is(err, xregion.ErrClockOffset), "untyped error: %v", err)
			return
		}
		require.Equal(t, res, again, "the same answer from the same state")
		if in.Validate() != nil {
			return // a store refuses an invalid record before resolving it
		}
		require.NoError(t, res.Check("t", in), "the resolution is one a store accepts")
		if in.Epoch < 2 {
			require.False(t, res.Changed, "a record of an epoch the grant has passed is never applied")
		}
		if res.Changed {
			require.True(t, in.Equal(res.Record))
		}
		if res.Lost != nil {
			require.True(t, res.Lost.Equal(local) || res.Lost.Equal(in), "a quarantined or lost record is one of the two")
		}
	})
}
