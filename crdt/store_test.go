package crdt_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/crdt"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/memstore"
)

// region is one region of an end-to-end test: its store, its clock, and its
// wall clock (skewed against the others').
type region struct {
	name  xregion.Region
	store *memstore.Store
	clock *xregion.Clock
	wall  *xregion.ManualClock
}

func newRegion(t testing.TB, name xregion.Region, wall *xregion.ManualClock, tables ...string) *region {
	t.Helper()
	clock, err := xregion.NewClock(wall)
	require.NoError(t, err)
	store, err := memstore.New(name)
	require.NoError(t, err)
	resolver, err := crdt.NewResolver(name, clock)
	require.NoError(t, err)
	for _, table := range tables {
		require.NoError(t, store.DefineTable(context.Background(), table, resolver))
	}
	return &region{name: name, store: store, clock: clock, wall: wall}
}

// read returns the state stored under key (the empty T if none) and the
// version to use as the write's base.
func read[T crdt.State](t testing.TB, r *region, table, key string) (T, xregion.Version) {
	t.Helper()
	var zero T
	rec, err := r.store.Get(context.Background(), table, key)
	if errors.Is(err, xregion.ErrNotFound) {
		return zero, xregion.Version{}
	}
	require.NoError(t, err)
	s, err := crdt.DecodeAs[T](rec.Value)
	require.NoError(t, err)
	return s, rec.Version
}

// write applies a local write of delta, made from the state read at base,
// stamping it again if it is refused as stale; between stamping and
// applying, it runs between (a replicator applying a peer's changes runs
// alongside the application). It returns how many times it stamped again.
func (r *region) write(t testing.TB, table, key string, base xregion.Version, delta crdt.State, between func()) (stale int) {
	t.Helper()
	ctx := context.Background()
	for ; ; stale++ {
		w, err := crdt.Write(r.clock, r.name, key, base, delta)
		require.NoError(t, err)
		between()
		_, err = r.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: table, Record: w}}})
		var se *crdt.StaleWriteError
		if errors.As(err, &se) {
			require.True(t, crdt.IsRetryable(err))
			base = se.Stored
			continue
		}
		require.NoError(t, err)
		return stale
	}
}

// ship copies the changes from originated to to (replicate.Ship).
func ship(t testing.TB, from, to *region) {
	t.Helper()
	_, err := replicate.Ship(context.Background(), from.store, to.store)
	require.NoError(t, err)
}

// TestResolver_stores: three regions on the embedded store, with clocks up
// to 250 ms apart, write counters and sets concurrently and ship their
// changelogs as the replicator does (each region ships what it
// originated). At the end every region holds identical records, the
// counters hold exactly the sum of every write made anywhere (no write was
// stranded in a region that never shipped it), and no ledger holds
// anything.
func TestResolver_stores(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(42, 42))
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var rs []*region
	for i, name := range []xregion.Region{"ap-south-1", "eu-west-1", "us-east-1"} {
		skew := []time.Duration{0, 150 * time.Millisecond, -100 * time.Millisecond}[i]
		rs = append(rs, newRegion(t, name, xregion.NewManualClock(start.Add(skew)), "counters", "carts"))
	}
	// write writes in r, now and then letting the peers' changes in
	// between stamping and applying the write.
	stale := 0
	write := func(r *region, table, key string, base xregion.Version, delta crdt.State) {
		stale += r.write(t, table, key, base, delta, func() {
			if rng.IntN(3) == 0 {
				for _, from := range rs {
					if from != r {
						ship(t, from, r)
					}
				}
			}
		})
	}
	wantViews := uint64(0)
	wantBalance := new(apd.Decimal)
	added := map[string]bool{}
	for step := range 1500 {
		for _, r := range rs {
			r.wall.Advance(time.Duration(rng.IntN(3)) * time.Millisecond)
		}
		r := rs[rng.IntN(3)]
		switch k := rng.IntN(10); {
		case k < 3:
			views, base := read[crdt.GCounter](t, r, "counters", "views")
			n := uint64(rng.IntN(5) + 1)
			d, err := views.Inc(r.name, n)
			require.NoError(t, err)
			write(r, "counters", "views", base, d)
			wantViews += n
		case k < 5:
			balance, base := read[crdt.PNCounter](t, r, "counters", "balance")
			if balance.Precision() == 0 {
				balance, _ = crdt.NewPNCounter(12, 2)
			}
			amount := apd.New(rng.Int64N(20001)-10000, -2)
			d, err := balance.Add(r.name, amount)
			require.NoError(t, err)
			write(r, "counters", "balance", base, d)
			_, err = apd.BaseContext.WithPrecision(50).Add(wantBalance, wantBalance, amount)
			require.NoError(t, err)
		case k < 7:
			cart, base := read[crdt.ORSet](t, r, "carts", "cart/7")
			sku := fmt.Sprintf("sku-%d", rng.IntN(8))
			if rng.IntN(2) == 0 {
				d, err := cart.Add(r.name, sku)
				require.NoError(t, err)
				write(r, "carts", "cart/7", base, d)
				added[sku] = true
			} else if cart.Contains(sku) {
				write(r, "carts", "cart/7", base, cart.Remove(sku))
			}
		default:
			ship(t, r, rs[(rng.IntN(2)+1+step)%3])
		}
	}
	// One last write in each region, raced by its peers' changes: if it
	// were merged under a peer's version, its region would never ship it.
	for _, r := range rs {
		views, base := read[crdt.GCounter](t, r, "counters", "views")
		d, err := views.Inc(r.name, 1)
		require.NoError(t, err)
		for _, other := range rs {
			other.wall.Advance(time.Duration(rng.IntN(3)) * time.Millisecond)
			if other != r {
				w, err := crdt.Write(other.clock, other.name, "views", xregion.Version{}, crdt.GCounter{})
				require.NoError(t, err)
				_, err = other.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: "counters", Record: w}}})
				require.NoError(t, err)
			}
		}
		stale += r.write(t, "counters", "views", base, d, func() {
			for _, from := range rs {
				if from != r {
					ship(t, from, r)
				}
			}
		})
		wantViews++
	}
	for range 2 {
		for _, from := range rs {
			for _, to := range rs {
				if from != to {
					ship(t, from, to)
				}
			}
		}
	}

	require.NotZero(t, stale, "the history must exercise stale writes")
	t.Logf("%d writes stamped again", stale)
	for _, key := range [][2]string{{"counters", "views"}, {"counters", "balance"}, {"carts", "cart/7"}} {
		first, err := rs[0].store.Get(ctx, key[0], key[1])
		require.NoError(t, err)
		for _, r := range rs[1:] {
			got, err := r.store.Get(ctx, key[0], key[1])
			require.NoError(t, err)
			require.True(t, first.Equal(got), "%s/%s differs between %s and %s", key[0], key[1], rs[0].name, r.name)
		}
	}
	for _, r := range rs {
		views, _ := read[crdt.GCounter](t, r, "counters", "views")
		require.Equal(t, wantViews, views.Value(), "region %s", r.name)
		balance, _ := read[crdt.PNCounter](t, r, "counters", "balance")
		require.Zero(t, balance.Value().Cmp(wantBalance), "region %s holds %s, want %s", r.name, balance.Value(), wantBalance)
		lost, err := r.store.LostUpdates(ctx, 0, 10)
		require.NoError(t, err)
		require.Empty(t, lost)
	}
}
