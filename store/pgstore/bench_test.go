package pgstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
)

const benchBatch = 1000

// benchBatch returns a batch of benchBatch records of 100 bytes for keys
// "customer-<set>-<i>", stamped after every earlier call.
func newBenchBatch(set int64, wall *atomic.Int64) xregion.Batch {
	var b xregion.Batch
	value := make([]byte, 100)
	for i := range benchBatch {
		b.Writes = append(b.Writes, xregion.Write{Table: "orders", Record: xregion.Record{
			Key: fmt.Sprintf("customer-%d-%d", set, i), Value: value,
			Version: xregion.Version{Time: xregion.Timestamp{WallTime: wall.Add(1)}, Region: "b"},
		}})
	}
	return b
}

// BenchmarkStore_Apply measures Apply throughput for batches of 1,000
// records on PostgreSQL; records/s is the figure that counts.
//
//   - insert: every batch writes 1,000 new keys;
//   - update: every batch overwrites the same 1,000 keys;
//   - peer:   new keys, sent as a peer batch that moves a watermark;
//   - insert-parallel: insert from 4 goroutines at once, the store's
//     throughput when several writers share it.
func BenchmarkStore_Apply(b *testing.B) {
	setup := func(b *testing.B) (xregion.Store, *atomic.Int64) {
		s := newStore(b, regiontest.Database(b), "a")
		require.NoError(b, s.DefineTable(b.Context(), "orders", takeIncoming))
		var wall atomic.Int64
		wall.Store(time.Now().UnixNano())
		return s, &wall
	}
	apply := func(b *testing.B, s xregion.Store, batch xregion.Batch) {
		res, err := s.Apply(b.Context(), batch)
		if err != nil || res.Applied != benchBatch {
			b.Fatalf("apply: %+v %v", res, err)
		}
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "records/s")
	}

	for _, mode := range []string{"insert", "update", "peer"} {
		b.Run(mode, func(b *testing.B) {
			s, wall := setup(b)
			batches := make([]xregion.Batch, b.N)
			for n := range b.N {
				set := int64(n)
				if mode == "update" {
					set = 0
				}
				batches[n] = newBenchBatch(set, wall)
				if mode == "peer" {
					batches[n].From = "b"
					batches[n].After = xregion.Position{Tx: uint64(n)}
					batches[n].Through = xregion.Position{Tx: uint64(n + 1)}
				}
			}
			if mode == "update" {
				apply(b, s, newBenchBatch(0, wall)) // create the keys first
				for n := range batches {            // and stamp the updates after them
					batches[n] = newBenchBatch(0, wall)
				}
			}
			b.ResetTimer()
			for n := range b.N {
				apply(b, s, batches[n])
			}
			report(b)
		})
	}

	b.Run("insert-parallel", func(b *testing.B) {
		s, wall := setup(b)
		var sets atomic.Int64
		b.SetParallelism(2) // 2 × GOMAXPROCS goroutines
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				apply(b, s, newBenchBatch(sets.Add(1), wall))
			}
		})
		report(b)
	})
}
