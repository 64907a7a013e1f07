package replicate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/replicate"
)

// writeIn makes a local write of key in n, stamped by n's clock.
func writeIn(t *testing.T, n *node, key string) xregion.Write {
	t.Helper()
	v, err := n.clock.Stamp(n.name, xregion.Version{})
	require.NoError(t, err)
	w := order(key, string(n.name))
	w.Record.Version = v
	_, err = n.store.Apply(t.Context(), xregion.Batch{Writes: []xregion.Write{w}})
	require.NoError(t, err)
	return w
}

// keysOf counts, per key, the changes of origin in st's changelog, once
// no open transaction on its server hides any of them.
func keysOf(t *testing.T, st xregion.Store, origin xregion.Region) map[string]int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		cs := allChanges(t, st, origin)
		var last xregion.Position
		if len(cs) > 0 {
			last = cs[len(cs)-1].Pos
		}
		b, err := st.Backlog(t.Context(), last, origin)
		require.NoError(t, err)
		if b.Changes == 0 {
			out := map[string]int{}
			for _, c := range cs {
				out[c.Record.Key]++
			}
			return out
		}
		require.True(t, time.Now().Before(deadline), "%d changes of %s in %s stay hidden by open transactions", b.Changes, origin, st.Region())
		time.Sleep(20 * time.Millisecond)
	}
}

// Region a shipped some writes to b and fewer to c, and staged a
// synchronous write in c alone, then died. Without a catch-up b and c
// disagree for good; with it, both hold every write a shipped or staged
// anywhere, each once, and a coming back applies nothing twice.
func TestCatchUp_SurvivorsEndLevel(t *testing.T) {
	ctx := t.Context()
	ns := memNodes(t, "a", "b", "c")
	a, b, c := ns[0], ns[1], ns[2]
	for i := range 4 {
		writeIn(t, a, key(i))
	}
	_, err := replicate.Ship(ctx, a.store, c.store)
	require.NoError(t, err)
	for i := 4; i < 10; i++ {
		writeIn(t, a, key(i))
	}
	_, err = replicate.Ship(ctx, a.store, b.store)
	require.NoError(t, err)
	staged := writeIn(t, a, "staged") // a synchronous write under Quorum(1): staged in c only
	require.NoError(t, c.store.(xregion.Stager).Stage(ctx, "a", []xregion.Write{staged}))

	// a is gone. This is the hole: c lacks six of a's writes that b holds.
	require.Len(t, keysOf(t, c.store, "a"), 4)
	lag, err := replicate.ForwardLag(ctx, b.store, c.store, "a", time.Now())
	require.NoError(t, err)
	require.Equal(t, int64(6), lag.Pending)
	require.Positive(t, lag.RPO, "a survivor lacking the dead region's writes shows it in its lag")

	rep, err := replicate.CatchUp(ctx, "a", []xregion.Store{b.store, c.store})
	require.NoError(t, err)
	require.Equal(t, xregion.Region("b"), rep.MostComplete)
	rb, rc := rep.Survivors[0], rep.Survivors[1]
	require.Equal(t, 1, rb.LackedBefore, "b lacked the write staged in c")
	require.Equal(t, 6, rc.LackedBefore, "c lacked what only b had")
	require.Equal(t, 1, rc.StagedApplied)
	require.Positive(t, rc.RPOBefore)
	require.Zero(t, rb.LackedAfter)
	require.Zero(t, rc.LackedAfter)
	require.Equal(t, 1, rb.Received)
	require.Equal(t, 6, rc.Received)

	for _, s := range []*node{b, c} {
		got := keysOf(t, s.store, "a")
		require.Len(t, got, 11, "%s holds every write a shipped or staged anywhere", s.name)
		for k, n := range got {
			require.Equal(t, 1, n, "%s holds %s once", s.name, k)
		}
	}
	wb, err := b.store.Watermark(ctx, "a")
	require.NoError(t, err)
	wc, err := c.store.Watermark(ctx, "a")
	require.NoError(t, err)
	require.Equal(t, wb, wc, "c's watermark moved as if a had shipped to it")
	lag, err = replicate.ForwardLag(ctx, b.store, c.store, "a", time.Now())
	require.NoError(t, err)
	require.Zero(t, lag.Pending)
	require.Zero(t, lag.RPO)

	// Again: nothing moves.
	rep, err = replicate.CatchUp(ctx, "a", []xregion.Store{c.store, b.store})
	require.NoError(t, err)
	require.Zero(t, rep.Survivors[0].Received+rep.Survivors[1].Received)

	// a comes back and ships: nothing is applied twice anywhere.
	for _, s := range []*node{b, c} {
		_, err := replicate.Ship(ctx, a.store, s.store)
		require.NoError(t, err)
		for k, n := range keysOf(t, s.store, "a") {
			require.Equal(t, 1, n, "%s holds %s once after a's return", s.name, k)
		}
	}
}

func TestForward_NoEcho(t *testing.T) {
	ns := memNodes(t, "a", "b")
	a, b := ns[0], ns[1]
	for name, origin := range map[string]xregion.Region{"its own writes": "a", "the receiver's own": "b"} {
		t.Run(name, func(t *testing.T) {
			_, err := replicate.Forward(t.Context(), a.store, b.store, origin)
			require.ErrorIs(t, err, xregion.ErrInvalid)
		})
	}
	_, err := replicate.CatchUp(t.Context(), "a", []xregion.Store{a.store, b.store})
	require.ErrorIs(t, err, xregion.ErrInvalid, "the dead region is no survivor")
	_, err = replicate.CatchUp(t.Context(), "c", []xregion.Store{a.store})
	require.ErrorIs(t, err, xregion.ErrInvalid, "one survivor has no one to catch up with")
}

// refuseFrom keeps every write of origin out of its table: a stand-in for
// a resolver that fences a stale home's writes.
type refuseFrom struct {
	xregion.Resolver
	origin xregion.Region
}

func (r refuseFrom) Resolve(local, incoming xregion.Record) (xregion.Resolution, error) {
	if incoming.Version.Region == r.origin {
		return xregion.Resolution{}, nil
	}
	return r.Resolver.Resolve(local, incoming)
}

// A write no receiver takes ends the catch-up with ErrNotCaughtUp, and the
// report says what stays lacking, instead of going round for ever.
func TestCatchUp_WhatNoReceiverTakes(t *testing.T) {
	ctx := t.Context()
	ns := memNodes(t, "a", "b", "c")
	a, b, c := ns[0], ns[1], ns[2]
	inner, err := lww.New(c.clock)
	require.NoError(t, err)
	require.NoError(t, c.store.DefineTable(ctx, "orders", refuseFrom{inner, "a"}))
	staged := writeIn(t, a, "staged")
	require.NoError(t, b.store.(xregion.Stager).Stage(ctx, "a", []xregion.Write{staged}))

	rep, err := replicate.CatchUp(ctx, "a", []xregion.Store{b.store, c.store})
	require.ErrorIs(t, err, replicate.ErrNotCaughtUp)
	require.Equal(t, 1, rep.Survivors[1].LackedAfter)
}
