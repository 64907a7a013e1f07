package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRun runs the example and checks its story: both regions converge on
// one value and each reports the other write as lost.
func TestRun(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(t.Context(), &out))

	var holds []string
	for _, line := range strings.Split(out.String(), "\n") {
		if _, rest, ok := strings.Cut(line, " holds "); ok {
			holds = append(holds, rest)
		}
	}
	require.Len(t, holds, 2, out.String())
	require.Equal(t, holds[0], holds[1], "both regions must hold the same record")
	require.Equal(t, 2, strings.Count(out.String(), "lost-update ledger:"), out.String())
}
