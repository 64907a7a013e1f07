package resync

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
)

func TestCutBytes(t *testing.T) {
	w := func(n int) xregion.Write {
		return xregion.Write{Record: xregion.Record{Key: "k", Value: []byte(strings.Repeat("v", n-1))}}
	}
	sizes := func(batches [][]xregion.Write) [][]int {
		var out [][]int
		for _, b := range batches {
			var s []int
			for _, x := range b {
				s = append(s, len(x.Record.Key)+len(x.Record.Value))
			}
			out = append(out, s)
		}
		return out
	}
	require.Empty(t, cutBytes(nil, 10))
	require.Equal(t, [][]int{{4, 6}, {3, 3, 3}, {12}, {1}},
		sizes(cutBytes([]xregion.Write{w(4), w(6), w(3), w(3), w(3), w(12), w(1)}, 10)),
		"at most 10 bytes a batch; a larger record alone")
}
