package replicate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/replicate"
)

// takeIncoming stores each write as it is: the origin's changelog then holds
// every write, one change each.
var takeIncoming = xregion.ResolverFunc(func(_, in xregion.Record) (xregion.Resolution, error) {
	return xregion.Resolution{Record: in, Changed: true}, nil
})

// counting is the peer's resolver in the exactly-once test. It is not
// idempotent on purpose: the stored value counts the changes applied to the
// key, and how many arrived out of version order, so a change applied twice
// or out of order shows in the final counts.
var counting = xregion.ResolverFunc(func(local, in xregion.Record) (xregion.Resolution, error) {
	applied, outOfOrder := 0, 0
	if !local.Version.IsZero() {
		parts := strings.Split(string(local.Value), "/")
		applied, _ = strconv.Atoi(parts[0])
		outOfOrder, _ = strconv.Atoi(parts[1])
		if !local.Version.Less(in.Version) {
			outOfOrder++
		}
	}
	out := in
	out.Value = fmt.Appendf(nil, "%d/%d", applied+1, outOfOrder)
	if local.Version.Compare(in.Version) > 0 {
		out.Version = local.Version
	}
	return xregion.Resolution{Record: out, Changed: true}, nil
})

// TestAsync_ExactlyOnceWhileKilled kills the shipper many times under load,
// by resetting its connections to the peer (also during commits) and by
// closing the replicator mid-batch, and restarts it each time. The peer must
// end with every change applied exactly once, in order per key.
func TestAsync_ExactlyOnceWhileKilled(t *testing.T) {
	ns := pgNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	for _, st := range []xregion.Store{a.store} {
		require.NoError(t, st.DefineTable(t.Context(), "counted", takeIncoming))
	}
	for _, st := range []xregion.Store{b.store, b.remote} {
		require.NoError(t, st.DefineTable(t.Context(), "counted", counting))
	}

	const keys, writes = 23, 3000
	written := make([]atomic.Int64, keys)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		for i := 0; i < writes; i += 10 {
			var batch []xregion.Write
			for j := i; j < i+10; j++ {
				batch = append(batch, xregion.Write{Table: "counted", Record: xregion.Record{
					Key: fmt.Sprintf("k%02d", j%keys), Value: []byte("w"),
					Version: xregion.Version{Time: a.clock.Now(), Region: a.name}}})
			}
			_, err := a.store.Apply(context.Background(), xregion.Batch{Writes: batch})
			if err != nil {
				t.Errorf("write: %v", err)
				return
			}
			for j := i; j < i+10; j++ {
				written[j%keys].Add(1)
			}
		}
	}()

	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for alive := true; alive || kills < 50; kills++ {
		rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.remote},
			replicate.WithBatchSize(50+rng.IntN(200)), replicate.WithPollInterval(time.Millisecond))
		require.NoError(t, err)
		time.Sleep(time.Duration(5+rng.IntN(40)) * time.Millisecond) // let batches reach the real server: the kill lands anywhere in them
		if rng.IntN(2) == 0 {
			b.pg.Proxy.Reset()                                         // connections die, some of them mid-commit
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond) // the reconnects race the close, on the real network
		}
		require.NoError(t, rep.Close()) // cancels whatever was in flight
		select {
		case <-writerDone:
			alive = false
		default:
		}
	}
	t.Logf("killed the shipper %d times", kills)

	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.remote}, replicate.WithPollInterval(time.Millisecond))
	require.NoError(t, err)
	defer rep.Close()
	require.Eventually(t, func() bool {
		lags, err := rep.Lag(t.Context())
		return err == nil && lags[0].Pending == 0
	}, 60*time.Second, 20*time.Millisecond, "the peer never caught up")

	total := 0
	for k := range keys {
		r, err := b.store.Get(t.Context(), "counted", fmt.Sprintf("k%02d", k))
		require.NoError(t, err)
		want := written[k].Load()
		require.Equal(t, fmt.Sprintf("%d/0", want), string(r.Value),
			"key k%02d: want %d changes applied once each and none out of order", k, want)
		total += int(want)
	}
	require.Equal(t, writes, total)
}

// TestAsync_LeaseMakesOneShipper runs two replicators for the same region,
// as two processes would: one ships, the other stands by, and takes over
// when the first stops. Nothing is applied twice.
func TestAsync_LeaseMakesOneShipper(t *testing.T) {
	ns := pgNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	require.NoError(t, a.store.DefineTable(t.Context(), "counted", takeIncoming))
	require.NoError(t, b.remote.DefineTable(t.Context(), "counted", counting))
	require.NoError(t, b.store.DefineTable(t.Context(), "counted", counting))

	opts := []replicate.Option{replicate.WithPollInterval(time.Millisecond), replicate.WithHeartbeat(50 * time.Millisecond)}
	first, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.remote}, opts...)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return state(t, first) == xregion.LinkShipping }, 10*time.Second, 5*time.Millisecond)
	// The second process runs on a manual clock: it waits for the lease by
	// the heartbeat, which the test moves on by hand.
	clock := xregion.NewManualClock(time.Now())
	second, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{b.remote}, append(opts, replicate.WithTimers(clock))...)
	require.NoError(t, err)
	defer second.Close()

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 400 {
			w := xregion.Write{Table: "counted", Record: xregion.Record{Key: "k", Value: []byte("w")}}
			require.NoError(t, second.Write(t.Context(), w), "write %d", i)
		}
	})
	require.Eventually(t, func() bool { return clock.Pending() > 0 }, 10*time.Second, time.Millisecond,
		"the second tried the lease and waits a heartbeat to try again")
	require.Equal(t, xregion.LinkStandby, state(t, second), "the lease holder ships, the other waits")
	require.NoError(t, first.Close())
	clock.Advance(50 * time.Millisecond)
	require.Eventually(t, func() bool { return state(t, second) == xregion.LinkShipping }, 10*time.Second, 5*time.Millisecond)
	wg.Wait()
	require.Eventually(t, func() bool {
		clock.Advance(time.Millisecond) // its polls: a read an open transaction held back is read again
		lags, err := second.Lag(t.Context())
		return err == nil && lags[0].Pending == 0
	}, 20*time.Second, 5*time.Millisecond)
	r, err := b.store.Get(t.Context(), "counted", "k")
	require.NoError(t, err)
	require.Equal(t, "400/0", string(r.Value))
}

func state(t *testing.T, r xregion.Lagger) xregion.LinkState {
	lags, err := r.Lag(t.Context())
	require.NoError(t, err)
	return lags[0].State
}
