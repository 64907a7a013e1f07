package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRun runs the example on in-process clusters and checks its story:
// the lag is printed while messages flow, and the bridge catches up.
func TestRun(t *testing.T) {
	from, to, closeAll, err := inProcess()
	require.NoError(t, err)
	defer closeAll()
	var out strings.Builder
	cfg := config{from: from, to: to, topic: "orders", group: "example", n: 5000, partitions: 2, every: 50 * time.Millisecond}
	require.NoError(t, run(t.Context(), cfg, &out))
	require.Contains(t, out.String(), "us-east-1 → us-west-2", out.String())
	require.Contains(t, out.String(), "caught up: the target holds every message of us-east-1", out.String())
}
