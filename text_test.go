package xregion_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func TestVersion_Text(t *testing.T) {
	for _, v := range []xregion.Version{{}, {Time: xregion.Timestamp{WallTime: 1_700_000_000_000_000_042, Logical: 3}, Region: "us-east-1"}} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		var back xregion.Version
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, v, back, string(b))
	}
	var v xregion.Version
	for _, bad := range []string{"", "1700000000.000000042,3", "x@a", "1700000000.000000042,3@US East"} {
		require.ErrorIs(t, v.UnmarshalText([]byte(bad)), xregion.ErrInvalid, bad)
	}
	b, err := json.Marshal(xregion.LostFenced)
	require.NoError(t, err)
	require.Equal(t, `"fenced"`, string(b))
	var r xregion.LossReason
	require.NoError(t, json.Unmarshal(b, &r))
	require.Equal(t, xregion.LostFenced, r)
	require.ErrorIs(t, r.UnmarshalText([]byte("later")), xregion.ErrInvalid)
}

// FuzzVersion_UnmarshalText: text from another region's tool never panics
// the parser, and what it accepts formats back to the same text.
func FuzzVersion_UnmarshalText(f *testing.F) {
	f.Add("none")
	f.Add("1700000000.000000042,3@us-east-1")
	f.Add("@")
	f.Fuzz(func(t *testing.T, s string) {
		var v xregion.Version
		if v.UnmarshalText([]byte(s)) != nil {
			return
		}
		out, err := v.MarshalText()
		require.NoError(t, err)
		require.Equal(t, s, string(out))
	})
}
