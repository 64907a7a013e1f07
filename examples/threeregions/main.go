// Command threeregions shows what happens to a dead region's writes when
// there are three regions, and how the survivors close the hole.
//
// Region a ships its orders asynchronously to b, which is near, and to c,
// which is farther (25 ms each way). a dies while c is still behind. Each
// region ships only the writes it made, so nothing would ever carry to c
// the orders b received from a: b and c would disagree for good.
// replicate.CatchUp names the survivor that holds the most of a's writes,
// and has it forward to the other what it lacks, with a's own positions,
// so c's watermark for a moves as if a had shipped to it.
//
//	go run ./examples/threeregions
//
// The regions are memstores in this process; the links to b and c are
// regiontest.MemLinks, the in-memory counterpart of the TCP proxies the
// tests use.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/replicate"
	"github.com/xregion/xregion/store/memstore"
)

const orders = "orders"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "threeregions:", err)
		os.Exit(1)
	}
}

// region is one region's store and the clock that stamps its writes.
type region struct {
	store *memstore.Store
	clock *xregion.Clock
}

func newRegion(ctx context.Context, name xregion.Region) (region, error) {
	st, err := memstore.New(name)
	if err != nil {
		return region{}, err
	}
	clock, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		return region{}, err
	}
	res, err := lww.New(clock)
	if err != nil {
		return region{}, err
	}
	return region{st, clock}, st.DefineTable(ctx, orders, res)
}

func run(ctx context.Context, out io.Writer) error {
	var rs [3]region
	for i, name := range []xregion.Region{"a", "b", "c"} {
		var err error
		if rs[i], err = newRegion(ctx, name); err != nil {
			return err
		}
	}
	a, b, c := rs[0], rs[1], rs[2]
	toB, toC := regiontest.NewMemLink(time.Millisecond), regiontest.NewMemLink(25*time.Millisecond)
	rep, err := replicate.NewAsync(a.store, a.clock, []xregion.Store{toB.Store(b.store), toC.Store(c.store)},
		replicate.WithPollInterval(5*time.Millisecond), replicate.WithBatchSize(20))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "region a takes 200 orders, shipping them to b (1 ms away) and c (25 ms away)")
	for i := range 200 {
		w := xregion.Write{Table: orders, Record: xregion.Record{Key: fmt.Sprintf("order-%03d", i), Value: []byte("paid")}}
		if err := rep.Write(ctx, w); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	// b, near, soon has them all; c, far, is still behind when a dies.
	for {
		n, err := count(ctx, b.store)
		if err != nil {
			return err
		}
		if n == 200 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// a dies: its links go dark and its process is gone.
	toB.Blackhole()
	toC.Blackhole()
	if err := rep.Close(); err != nil {
		return err
	}
	fmt.Fprintln(out, "region a dies")
	survivors := []xregion.Store{b.store, c.store}
	if err := show(ctx, out, "before the catch-up", survivors); err != nil {
		return err
	}

	cu, err := replicate.CatchUp(ctx, "a", survivors)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ncatch-up: %s is the most complete survivor\n", cu.MostComplete)
	for _, s := range cu.Survivors {
		fmt.Fprintf(out, "  %s lacked %3d of a's writes (RPO %s), received %3d, lacks %d\n",
			s.Region, s.LackedBefore, s.RPOBefore.Round(time.Millisecond), s.Received, s.LackedAfter)
	}
	if err := show(ctx, out, "after the catch-up", survivors); err != nil {
		return err
	}
	nb, err := count(ctx, b.store)
	if err != nil {
		return err
	}
	nc, err := count(ctx, c.store)
	if err != nil {
		return err
	}
	if nb != nc {
		return fmt.Errorf("the survivors still differ: b holds %d of a's orders, c %d", nb, nc)
	}
	fmt.Fprintln(out, "\nb and c hold the same writes of a: whichever is promoted, no order a shipped is lost")
	return nil
}

// show prints how many of a's orders each survivor holds, and its
// watermark for a.
func show(ctx context.Context, out io.Writer, when string, survivors []xregion.Store) error {
	fmt.Fprintf(out, "\n%s:\n", when)
	for _, s := range survivors {
		n, err := count(ctx, s)
		if err != nil {
			return err
		}
		wm, err := s.Watermark(ctx, "a")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s holds %3d of a's orders (watermark for a: %s)\n", s.Region(), n, wm)
	}
	return nil
}

// count counts the orders s holds.
func count(ctx context.Context, s xregion.Store) (int, error) {
	n := 0
	for i := range 200 {
		_, err := s.Get(ctx, orders, fmt.Sprintf("order-%03d", i))
		switch {
		case errors.Is(err, xregion.ErrNotFound):
		case err != nil:
			return 0, err
		default:
			n++
		}
	}
	return n, nil
}
