package testseed

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// Env names the variable that replays a seed.
const Env = "XREGION_SEED"

// Seed returns the seed in XREGION_SEED, or a new one when it is not set,
// and logs it. A value that is not an unsigned integer fails the test.
func Seed(t testing.TB) uint64 {
	t.Helper()
	s, ok := os.LookupEnv(Env)
	if !ok || s == "" {
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d (replay with %s=%d)", seed, Env, seed)
		return seed
	}
	seed, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: want an unsigned integer seed: %v", Env, s, err)
	}
	t.Logf("seed %d from %s", seed, Env)
	return seed
}
