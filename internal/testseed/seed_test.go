package testseed_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion/internal/testseed"
)

func TestSeed(t *testing.T) {
	t.Setenv(testseed.Env, "1796319906315319029")
	require.Equal(t, uint64(1796319906315319029), testseed.Seed(t), "the given seed replays")

	t.Setenv(testseed.Env, "")
	a := testseed.Seed(t)
	require.NotZero(t, a, "a new seed without one given")
}
