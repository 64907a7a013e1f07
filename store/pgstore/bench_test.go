package pgstore_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
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

// BenchmarkStore_Digests measures the Digester reads on a table of
// 1,000,000 records of 100 bytes, vacuumed, as autovacuum leaves a table
// that is mostly read:
//
//   - wide: Digests of AllKeys.Split(1024), every record in one call;
//   - split-64k: Digests of AllKeys.Split(65536), every record again;
//   - narrow-64k: Digests of 65,536 ranges, each a thousandth of its
//     share of the space, holding about 1,000 records between them;
//   - keys: KeyDigests of 16 of the 65,536 ranges of split-64k, about
//     250 records;
//   - records: Records of 1,000 keys;
//   - count: SELECT count(*) by a sequential scan, to compare with wide.
func BenchmarkStore_Digests(b *testing.B) {
	ctx := b.Context()
	pool := regiontest.Database(b)
	s := newStore(b, pool, "a")
	require.NoError(b, s.DefineTable(ctx, "orders", takeIncoming))
	table := pgx.Identifier{s.Schema(), "orders"}.Sanitize()
	const rows = 1_000_000
	_, err := pool.Exec(ctx, `INSERT INTO `+table+`
		(key, value, wall, logical, origin, base_wall, base_logical, base_origin, epoch, tombstone)
		SELECT 'customer-' || i / 1000 || '-' || i % 1000, decode(repeat('ab', 100), 'hex'), 1700000000000000000 + i, 0, 'b', 0, 0, '', 0, false
		FROM generate_series(0, $1 - 1) AS i`, rows)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `VACUUM ANALYZE `+table)
	require.NoError(b, err)

	split64k := xregion.AllKeys.Split(1 << 16)
	var narrow []xregion.KeyRange
	for _, r := range split64k {
		narrow = append(narrow, xregion.KeyRange{Lo: r.Lo, Hi: r.Lo + (r.Hi-r.Lo)/1000})
	}
	var keys []string
	for i := range 1000 {
		keys = append(keys, fmt.Sprintf("customer-%d-%d", i, i))
	}
	digests := func(ranges []xregion.KeyRange) func(b *testing.B) {
		return func(b *testing.B) {
			var n int64
			for b.Loop() {
				ds, err := s.Digests(ctx, "orders", ranges)
				require.NoError(b, err)
				n = 0
				for _, d := range ds {
					n += d.Count
				}
			}
			b.ReportMetric(float64(n), "records")
		}
	}
	b.Run("wide", digests(xregion.AllKeys.Split(1024)))
	b.Run("split-64k", digests(split64k))
	b.Run("narrow-64k", digests(narrow))
	b.Run("keys", func(b *testing.B) {
		var n int
		for b.Loop() {
			kds, err := s.KeyDigests(ctx, "orders", split64k[:16])
			require.NoError(b, err)
			n = len(kds)
		}
		b.ReportMetric(float64(n), "records")
	})
	b.Run("records", func(b *testing.B) {
		var n int
		for b.Loop() {
			recs, err := s.Records(ctx, "orders", keys)
			require.NoError(b, err)
			n = len(recs)
		}
		b.ReportMetric(float64(n), "records")
	})
	b.Run("count", func(b *testing.B) {
		var n int64
		for b.Loop() {
			q := &pgx.Batch{}
			q.Queue("BEGIN READ ONLY")
			for _, set := range []string{"enable_indexonlyscan", "enable_indexscan", "enable_bitmapscan", "max_parallel_workers_per_gather"} {
				q.Queue("SET LOCAL " + set + " = 0") // a sequential scan, by one process
			}
			q.Queue(`SELECT count(*) FROM ` + table).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
			q.Queue("COMMIT")
			require.NoError(b, pool.SendBatch(ctx, q).Close())
		}
		b.ReportMetric(float64(n), "records")
	})
}
