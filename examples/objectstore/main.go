// Command objectstore runs a batch job on replicated key/value state
// (package kv), loses the region it runs in, and resumes it in the other
// region from the last checkpoint:
//
//  1. in region a, the job processes items 1 to N, stores each item's
//     result as an object (kv namespace "results", with a TTL) and saves
//     its position every k items (kv.Checkpoints), all through
//     replicate.Sync (Tier 1, RPO 0): a save returns once b holds it;
//
//  2. region a is lost mid-batch, after some items past its last
//     checkpoint: its link to b goes dark and its process stops;
//
//  3. region b takes over (Stager.ApplyStaged: the writes a staged in b
//     and the changelog stream had not delivered yet), loads the last
//     checkpoint b holds and resumes the job after it;
//
//  4. the program counts how often each item was processed, prints how
//     many were processed twice (the items a processed after its last
//     checkpoint: nothing was lost, and nothing before the checkpoint
//     was repeated) and fails if any item at or before the checkpoint was
//     processed twice or any item not at all.
//
//     go run ./examples/objectstore
//     go run ./examples/objectstore -items 1000 -every 50 -lost-after 777
//     go run ./examples/objectstore -pg postgres://postgres@127.0.0.1:5432/postgres
//
// By default the regions are memstores in this process, and a reaches b
// through a simulated network (regiontest.MemLink). With -pg each region
// is a PostgreSQL database created for the run and dropped at the end, and
// a reaches b through a regiontest.Proxy that blackholes real TCP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/kv"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/replicate"
)

// options is what a run does; main fills it from flags.
type options struct {
	pg        string        // PostgreSQL DSN; empty runs in memory
	items     int           // the batch: items 1 to items
	every     int           // a checkpoint every this many items
	lostAfter int           // region a is lost right after processing this item
	oneWay    time.Duration // latency from a to b, each way
}

func defaultOptions() options {
	return options{items: 100, every: 10, lostAfter: 47, oneWay: time.Millisecond}
}

func (o options) validate() error {
	switch {
	case o.items < 1 || o.every < 1:
		return fmt.Errorf("-items %d, -every %d: want each at least 1", o.items, o.every)
	case o.lostAfter < 1 || o.lostAfter > o.items:
		return fmt.Errorf("-lost-after %d: want an item from 1 to %d", o.lostAfter, o.items)
	case o.oneWay < 0:
		return fmt.Errorf("-latency %s: want 0 or more", o.oneWay)
	}
	return nil
}

func main() {
	opts := defaultOptions()
	flag.StringVar(&opts.pg, "pg", "", "run on PostgreSQL at this DSN (a database per region is created and dropped); default: in memory")
	flag.IntVar(&opts.items, "items", opts.items, "how many items the batch holds")
	flag.IntVar(&opts.every, "every", opts.every, "save a checkpoint every this many items")
	flag.IntVar(&opts.lostAfter, "lost-after", opts.lostAfter, "region a is lost right after processing this item")
	flag.DurationVar(&opts.oneWay, "latency", opts.oneWay, "one-way latency from a to b")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, opts); err != nil {
		fmt.Fprintln(os.Stderr, "objectstore:", err)
		os.Exit(1)
	}
}

// The kv table, its namespaces, and the job.
const (
	tableName   = "jobstate"
	results     = "results"
	checkpoints = "checkpoints"
	jobName     = "nightly-export"
	resultTTL   = 7 * 24 * time.Hour
	saveTimeout = 5 * time.Second // how long a Tier 1 write waits for b
)

func run(ctx context.Context, out io.Writer, opts options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	var (
		r   *regions
		err error
	)
	if opts.pg == "" {
		r, err = memRegions(opts.oneWay)
	} else {
		r, err = pgRegions(ctx, opts.pg, opts.oneWay)
	}
	if err != nil {
		return fmt.Errorf("set up regions: %w", err)
	}
	defer r.close()

	// Region b first: its table must exist before a's writes reach it.
	clockB, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		return err
	}
	b, err := newJob(ctx, r.b, clockB, nil)
	if err != nil {
		return fmt.Errorf("region b: %w", err)
	}
	if r.ownTables {
		// a applies its changes in b's database itself, through a store
		// value of its own for b: declare the table there too, with a
		// kv.Resolver of its own on b's clock.
		innerB, err := lww.New(clockB)
		if err != nil {
			return err
		}
		resolverB, err := kv.NewResolver(innerB)
		if err != nil {
			return err
		}
		if err := r.bFromA.DefineTable(ctx, tableName, resolverB); err != nil {
			return fmt.Errorf("region b, as a reaches it: %w", err)
		}
	}

	clockA, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		return err
	}
	rep, err := replicate.NewSync(r.a, clockA, []xregion.Store{r.bFromA}, replicate.WithTier(replicate.Tier1))
	if err != nil {
		return err
	}
	defer rep.Close()
	a, err := newJob(ctx, r.a, clockA, rep)
	if err != nil {
		return fmt.Errorf("region a: %w", err)
	}

	fmt.Fprintf(out, "Regions a and b, %s.\n", r.about)
	fmt.Fprintf(out, "Job %s processes items 1 to %d, storing each result as an object (%s/item-NNNN, TTL 7 days)\n", jobName, opts.items, results)
	fmt.Fprintf(out, "and saving a checkpoint every %d items, in kv table %s written through replicate.Sync (Tier 1, RPO 0).\n", opts.every, tableName)

	processed := map[int]int{} // how often each item was processed, in either region
	fmt.Fprintf(out, "\nRegion a:\n")
	err = a.process(ctx, out, 1, opts, processed)
	if !errors.Is(err, errLost) {
		return fmt.Errorf("the job in a: %w", err)
	}
	r.loseA()
	rep.Close() // a's process is gone
	fmt.Fprintf(out, "   region a is lost after item %d: its link to b goes dark and its process stops\n", opts.lostAfter)

	fmt.Fprintf(out, "\nRegion b takes over:\n")
	staged, err := r.b.(xregion.Stager).ApplyStaged(ctx)
	if err != nil {
		return fmt.Errorf("take over in b: %w", err)
	}
	fmt.Fprintf(out, "   applies the writes a had staged in b that the changelog stream had not delivered: %d (Stager.ApplyStaged)\n", staged.Applied)
	cp, ok, err := b.jobs.Load(ctx, jobName)
	if err != nil {
		return err
	}
	var checkpoint int
	if ok {
		checkpoint = int(cp.Position)
		fmt.Fprintf(out, "   checkpoint b holds: %d (saved in %s)\n", checkpoint, cp.Version.Region)
	} else {
		fmt.Fprintf(out, "   checkpoint b holds: none\n")
	}
	fmt.Fprintf(out, "   resumes at item %d; b serves alone, and its writes wait in its changelog for a to return\n", checkpoint+1)
	opts.lostAfter = 0 // b is not lost
	if err := b.process(ctx, out, checkpoint+1, opts, processed); err != nil {
		return fmt.Errorf("the job in b: %w", err)
	}

	return report(ctx, out, b, opts, checkpoint, processed)
}

// report prints how often the items were processed and what b holds, and
// fails if an item was skipped, or processed twice at or before the
// checkpoint b resumed from.
func report(ctx context.Context, out io.Writer, b *job, opts options, checkpoint int, processed map[int]int) error {
	var twice, twiceBefore, missing []int
	for i := 1; i <= opts.items; i++ {
		switch n := processed[i]; {
		case n == 0:
			missing = append(missing, i)
		case n > 1 && i <= checkpoint:
			twiceBefore = append(twiceBefore, i)
		case n > 1:
			twice = append(twice, i)
		}
	}
	fmt.Fprintf(out, "\nOutcome:\n")
	fmt.Fprintf(out, "   items processed at least once: %d of %d\n", opts.items-len(missing), opts.items)
	fmt.Fprintf(out, "   reprocessed: %d", len(twice))
	items := "items"
	if len(twice) == 1 {
		items = "item"
	}
	switch {
	case len(twice) > 0 && checkpoint > 0:
		fmt.Fprintf(out, " (%s %s, which a processed after its last checkpoint)", items, span(twice))
	case len(twice) > 0:
		fmt.Fprintf(out, " (%s %s, which a processed before it saved any checkpoint)", items, span(twice))
	}
	fmt.Fprintf(out, "\n   processed twice at or before the checkpoint: %d\n", len(twiceBefore))

	listed := 0
	q := kv.ListQuery{Prefix: "item-", Limit: kv.MaxListLimit}
	for {
		page, err := b.table.List(ctx, results, q)
		if err != nil {
			return err
		}
		listed += len(page)
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].Key
	}
	fmt.Fprintf(out, "   result objects b lists under %s/item-: %d\n", results, listed)

	switch {
	case len(missing) > 0:
		return fmt.Errorf("items never processed: %s", span(missing))
	case len(twiceBefore) > 0:
		return fmt.Errorf("items at or before checkpoint %d processed twice: %s", checkpoint, span(twiceBefore))
	case listed != opts.items:
		return fmt.Errorf("b lists %d result objects, want %d", listed, opts.items)
	}
	return nil
}

// span formats ascending items, which the story makes consecutive, as
// "41-47" (or "41", or a list if they are not consecutive).
func span(items []int) string {
	first, last := items[0], items[len(items)-1]
	switch {
	case first == last:
		return fmt.Sprint(first)
	case last-first+1 == len(items):
		return fmt.Sprintf("%d-%d", first, last)
	}
	return fmt.Sprint(items)
}

// between formats the items first to last.
func between(first, last int) string {
	if first == last {
		return fmt.Sprint(first)
	}
	return fmt.Sprintf("%d-%d", first, last)
}

// errLost is how the job in a stops when its region is lost.
var errLost = errors.New("region lost")

// job is the batch job in one region: its kv table, the results in it,
// and its checkpoints.
type job struct {
	region xregion.Region
	table  *kv.Table
	jobs   *kv.Checkpoints
}

// newJob declares the kv table in store, written through w (nil: the
// store itself).
func newJob(ctx context.Context, store xregion.Store, clock *xregion.Clock, w kv.Writer) (*job, error) {
	inner, err := lww.New(clock)
	if err != nil {
		return nil, err
	}
	var opts []kv.Option
	if w != nil {
		opts = append(opts, kv.WithWriter(w))
	}
	t, err := kv.New(ctx, store, clock, tableName, inner, opts...)
	if err != nil {
		return nil, err
	}
	jobs, err := kv.NewCheckpoints(t, checkpoints)
	if err != nil {
		return nil, err
	}
	return &job{region: store.Region(), table: t, jobs: jobs}, nil
}

// process runs the job from item from to the end of the batch, counting
// each item it processes in processed; it stops with errLost right after
// item opts.lostAfter, if that is set.
func (j *job) process(ctx context.Context, out io.Writer, from int, opts options, processed map[int]int) error {
	start := from
	for i := from; i <= opts.items; i++ {
		if err := j.do(ctx, i); err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
		processed[i]++
		if i%opts.every == 0 {
			sctx, cancel := context.WithTimeout(ctx, saveTimeout)
			err := j.jobs.Save(sctx, jobName, int64(i))
			cancel()
			if err != nil {
				return fmt.Errorf("checkpoint %d: %w", i, err)
			}
			fmt.Fprintf(out, "   items %s processed, checkpoint %d saved\n", between(start, i), i)
			start = i + 1
		}
		if i == opts.lostAfter {
			if start <= i {
				fmt.Fprintf(out, "   items %s processed\n", between(start, i))
			}
			return errLost
		}
	}
	if start <= opts.items {
		fmt.Fprintf(out, "   items %s processed\n", between(start, opts.items))
	}
	return nil
}

// do processes item i: here, it stores the item's result as an object.
func (j *job) do(ctx context.Context, i int) error {
	ctx, cancel := context.WithTimeout(ctx, saveTimeout)
	defer cancel()
	result := fmt.Sprintf(`{"item":%d,"exported_in":%q}`, i, j.region)
	_, err := j.table.Put(ctx, results, fmt.Sprintf("item-%04d", i), []byte(result), kv.TTL(resultTTL))
	return err
}
