package lww_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

// fuzzRecord builds a record of key "k" from fuzzed fields, as a peer might
// send it: any value, version, base, epoch and tombstone flag.
func fuzzRecord(value []byte, ms int64, logical int32, region string, baseMs int64, baseRegion string, tomb bool) xregion.Record {
	at := func(ms int64) int64 { return t0.Add(time.Duration(ms%(1<<40)) * time.Millisecond).UnixNano() }
	r := xregion.Record{Key: "k", Value: value, Tombstone: tomb,
		Version: xregion.Version{Time: xregion.Timestamp{WallTime: at(ms), Logical: logical}, Region: xregion.Region(region)}}
	if baseRegion != "" {
		r.Base = xregion.Version{Time: xregion.Timestamp{WallTime: at(baseMs)}, Region: xregion.Region(baseRegion)}
	}
	return r
}

// FuzzResolver_Resolve settles arbitrary pairs of records, the local one
// valid (a store holds only what it validated), the incoming one as a peer
// sent it: Resolve never panics, refuses only with ErrInvalid or
// ErrClockOffset, gives the same answer twice, and keeps the higher
// version, reporting a loser only when it is one of the two.
func FuzzResolver_Resolve(f *testing.F) {
	f.Add([]byte("a"), int64(10), int32(0), "eu-west-1", int64(0), "", false, []byte("b"), int64(20), int32(0), "us-east-1", int64(0), "", false)
	f.Add([]byte("a"), int64(10), int32(0), "eu-west-1", int64(0), "", false, []byte("b"), int64(10), int32(0), "eu-west-1", int64(5), "eu-west-1", false)
	f.Add([]byte(nil), int64(10), int32(1), "us-east-1", int64(0), "", true, []byte("late"), int64(5), int32(0), "ap-south-1", int64(0), "", false)
	f.Add([]byte("x"), int64(1), int32(0), "a", int64(0), "", false, []byte(nil), int64(1<<39), int32(0), "b", int64(0), "", true) // far in the future
	f.Fuzz(func(t *testing.T, lv []byte, lms int64, llog int32, lreg string, lbms int64, lbreg string, ltomb bool,
		iv []byte, ims int64, ilog int32, ireg string, ibms int64, ibreg string, itomb bool) {
		local := fuzzRecord(lv, lms, llog, lreg, lbms, lbreg, ltomb)
		if local.Validate() != nil {
			local = xregion.Record{} // the key holds nothing
		}
		in := fuzzRecord(iv, ims, ilog, ireg, ibms, ibreg, itomb)

		res, err := newResolver(t).Resolve(local, in)
		again, err2 := newResolver(t).Resolve(local, in)
		require.Equal(t, err == nil, err2 == nil, "the same answer twice")
		if err != nil {
			require.True(t, errors.Is(err, xregion.ErrInvalid) || errors.Is(err, xregion.ErrClockOffset), "untyped error: %v", err)
			return
		}
		require.Equal(t, res, again, "the same answer twice")
		if in.Validate() != nil {
			return // a store refuses an invalid record before resolving it; the answer only has to be safe
		}
		require.NoError(t, res.Check("t", in), "the resolution is one a store accepts")
		switch {
		case local.Version.IsZero():
			require.True(t, res.Changed, "an empty key takes the write")
		case local.Version.Less(in.Version):
			require.True(t, res.Changed, "the higher version wins")
		case in.Version.Less(local.Version):
			require.False(t, res.Changed, "the lower version loses")
		}
		if res.Changed {
			require.True(t, in.Equal(res.Record), "what is kept is the incoming record itself")
		}
		if res.Lost != nil {
			require.True(t, res.Lost.Equal(local) || res.Lost.Equal(in), "a loser is one of the two")
			require.Equal(t, xregion.LostConcurrent, res.Reason)
		}
	})
}
