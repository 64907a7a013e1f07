package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRun runs the example and checks its story: c was behind b when a
// died, and after the catch-up both hold all 200 orders.
func TestRun(t *testing.T) {
	var out strings.Builder
	require.NoError(t, run(t.Context(), &out))
	s := out.String()
	held := regexp.MustCompile(`(?m)^  ([bc]) holds +(\d+) of a's orders`).FindAllStringSubmatch(s, -1)
	require.Len(t, held, 4, s)
	require.Equal(t, "200", held[0][2], s)
	require.NotEqual(t, "200", held[1][2], "before the catch-up c is behind b:\n%s", s)
	require.Equal(t, "200", held[2][2], s)
	require.Equal(t, "200", held[3][2], s)
}
