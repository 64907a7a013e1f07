package replicate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/internal/testseed"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/resync"
)

// The origin dies at a random moment under load, with its peers at
// different distances; the survivors catch up; then it comes back and is
// resynced. Every write it acknowledged (quorum) or shipped anywhere
// (async) must end in every survivor exactly once, and its unshipped ones
// must follow through the resync, with nothing applied twice.
func TestCatchUp_OriginDiesUnderLoad(t *testing.T) {
	seed := testseed.Seed(t)
	holes := 0
	for _, n := range []int{3, 5} {
		for _, mode := range []string{"async", "quorum"} {
			t.Run(fmt.Sprintf("%d regions %s", n, mode), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, uint64(n)))
				holes += originDies(t, rng, n, mode == "quorum")
			})
		}
	}
	// Without forwarding the survivors would have stayed apart: this is
	// what makes the test able to fail.
	require.Positive(t, holes, "no round left a survivor lacking what another held; the test proved nothing")
}

// originDies runs one round and returns how many writes of the dead
// origin the survivors lacked of each other before the catch-up.
func originDies(t *testing.T, rng *rand.Rand, n int, quorum bool) int {
	ctx := t.Context()
	names := []xregion.Region{"a", "b", "c", "d", "e"}[:n]
	ns := pgNodes(t, names...)
	a, survivors := ns[0], ns[1:]
	var peers, stores []xregion.Store
	for i, s := range survivors {
		peers, stores = append(peers, s.remote), append(stores, s.store)
		// The first survivor is near; the others farther, the last the farthest.
		s.pg.Proxy.SetLatency(time.Duration(i*(10+rng.IntN(20))) * time.Millisecond)
	}

	var rep interface {
		Write(ctx context.Context, ws ...xregion.Write) error
		Close() error
	}
	var err error
	if quorum {
		rep, err = replicate.NewSync(a.store, a.clock, peers, replicate.WithQuorum(1))
	} else {
		rep, err = replicate.NewAsync(a.store, a.clock, peers, replicate.WithPollInterval(5*time.Millisecond))
	}
	require.NoError(t, err)

	// Load, until the origin dies at a random moment.
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		stop  = make(chan struct{})
		wg    sync.WaitGroup
	)
	for g := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("w%d-%05d", g, i)
				wctx, cancel := context.WithTimeout(ctx, time.Second)
				err := rep.Write(wctx, order(k, "v"))
				cancel()
				if err == nil {
					mu.Lock()
					acked[k] = true
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
	// The death: the links go dark mid-flight, then the process is gone.
	for _, s := range survivors {
		s.pg.Proxy.Blackhole()
	}
	close(stop)
	require.NoError(t, rep.Close())
	wg.Wait()
	for _, s := range survivors {
		s.pg.Proxy.Heal()
	}

	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cu, err := replicate.CatchUp(cctx, "a", stores, replicate.WithPollInterval(20*time.Millisecond))
	require.NoError(t, err)
	lacked := 0
	for _, sc := range cu.Survivors {
		t.Logf("%s: watermark %s, %d staged resolved, lacked %d (RPO %s), received %d, lacks %d",
			sc.Region, sc.Watermark, sc.StagedApplied, sc.LackedBefore, sc.RPOBefore.Round(time.Millisecond), sc.Received, sc.LackedAfter)
		require.Zero(t, sc.LackedAfter, "%s", sc.Region)
		lacked += sc.LackedBefore
	}
	t.Logf("%d writes acknowledged; %s was the most complete", len(acked), cu.MostComplete)

	// Every survivor holds the same writes of a, each once, the
	// acknowledged ones among them when they were acknowledged by quorum.
	var first map[string]int
	for _, s := range survivors {
		got := keysOf(t, s.store, "a")
		for k, c := range got {
			require.Equal(t, 1, c, "%s holds %s %d times", s.name, k, c)
		}
		if first == nil {
			first = got
		}
		require.Equal(t, len(first), len(got), "%s holds as many of a's writes as %s", s.name, survivors[0].name)
		for k := range first {
			require.Contains(t, got, k, "%s lacks %s, which %s holds", s.name, k, survivors[0].name)
		}
		if quorum {
			for k := range acked {
				require.Contains(t, got, k, "%s lacks %s, acknowledged by a quorum", s.name, k)
			}
		}
	}

	// a comes back: resync brings each survivor its unshipped writes, and
	// nothing a shipped is applied again anywhere.
	for _, s := range survivors {
		ra, err := lww.New(a.clock)
		require.NoError(t, err)
		rs, err := lww.New(s.clock)
		require.NoError(t, err)
		_, err = resync.Run(ctx, a.store, s.store, []resync.Table{{Name: "orders", A: ra, B: rs}})
		require.NoError(t, err, "resync a with %s", s.name)
	}
	all := keysOf(t, a.store, "a")
	for k := range acked {
		require.Contains(t, all, k)
	}
	for _, s := range survivors {
		got := keysOf(t, s.store, "a")
		require.Len(t, got, len(all), "%s holds every write of a after the resync", s.name)
		for k, c := range got {
			require.Equal(t, 1, c, "%s holds %s %d times after a's return", s.name, k, c)
		}
	}
	return lacked
}
