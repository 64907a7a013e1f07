// Package testseed gives a randomized test its seed: a new one each run, so
// that runs explore, or the one in XREGION_SEED, so that a failure replays.
// The test logs the seed with the command that replays it, whether it
// passes or fails.
//
//	rng := rand.New(rand.NewPCG(testseed.Seed(t), 1))
//
// A seed fixes every choice the test makes from its generator (the plan of
// a fault test: which process fails, where and when); it cannot fix how the
// machine schedules goroutines and network round trips, so a test that
// races real I/O replays its plan, not its exact interleaving.
package testseed
