package pgstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
)

// BenchmarkStore_Apply measures Apply throughput for batches of 1,000
// records on PostgreSQL: records/s is the figure that counts.
func BenchmarkStore_Apply(b *testing.B) {
	for _, mode := range []string{"insert", "update", "peer"} {
		b.Run(mode, func(b *testing.B) {
			const batchSize = 1000
			ctx := b.Context()
			s := newStore(b, regiontest.Database(b), "a")
			require.NoError(b, s.DefineTable(ctx, "orders", takeIncoming))
			value := make([]byte, 100)
			wall := time.Now().UnixNano()
			batch := func(n int) xregion.Batch {
				var bt xregion.Batch
				if mode == "peer" {
					bt.From = "b"
					bt.After = xregion.Position{Tx: uint64(n)}
					bt.Through = xregion.Position{Tx: uint64(n + 1)}
				}
				keyBase := n
				if mode == "update" {
					keyBase = 0
				}
				for i := range batchSize {
					wall++
					bt.Writes = append(bt.Writes, xregion.Write{Table: "orders", Record: xregion.Record{
						Key: fmt.Sprintf("customer-%d-%d", keyBase, i), Value: value,
						Version: xregion.Version{Time: xregion.Timestamp{WallTime: wall}, Region: "b"},
					}})
				}
				return bt
			}
			if mode == "update" {
				_, err := s.Apply(ctx, batch(0))
				require.NoError(b, err)
			}
			batches := make([]xregion.Batch, b.N)
			for n := range b.N {
				batches[n] = batch(n)
			}
			b.ResetTimer()
			for n := range b.N {
				res, err := s.Apply(ctx, batches[n])
				if err != nil || res.Applied != batchSize {
					b.Fatalf("apply: %+v %v", res, err)
				}
			}
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
