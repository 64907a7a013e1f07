package pgstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/xregion/xregion/regiontest"
)

func TestZZCopyExperiment(t *testing.T) {
	pool := regiontest.Database(t)
	ctx := t.Context()
	for _, tb := range []string{"ins", "cp"} {
		_, err := pool.Exec(ctx, `CREATE TABLE `+tb+` (key text COLLATE "C" PRIMARY KEY, `+recordColumnDefs+`) WITH (fillfactor=90)`)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{1000, 5000} {
		var tIns, tCp time.Duration
		for round := 0; round < 10; round++ {
			var a recordArrays
			rows := make([][]any, 0, n)
			for i := 0; i < n; i++ {
				k := fmt.Sprintf("k-%d-%d-%07d", n, round, i)
				v := make([]byte, 100)
				a.keys = append(a.keys, k)
				a.values = append(a.values, v)
				a.walls = append(a.walls, int64(i))
				a.logicals = append(a.logicals, 0)
				a.origins = append(a.origins, "a")
				a.baseWalls = append(a.baseWalls, 0)
				a.baseLogicals = append(a.baseLogicals, 0)
				a.baseOrigins = append(a.baseOrigins, "")
				a.epochs = append(a.epochs, 0)
				a.tombstones = append(a.tombstones, false)
				rows = append(rows, []any{k, v, int64(i), int32(0), "a", int64(0), int32(0), "", int64(0), false})
			}
			st := time.Now()
			tx, _ := pool.Begin(ctx)
			_, err := tx.Exec(ctx, `INSERT INTO ins (key, `+recordColumns+`) SELECT * FROM unnest(`+placeholders(1, recordArrayTypes)+`)`, a.args()...)
			if err != nil {
				t.Fatal(err)
			}
			tx.Commit(ctx)
			tIns += time.Since(st)
			st = time.Now()
			tx, _ = pool.Begin(ctx)
			_, err = tx.CopyFrom(ctx, pgx.Identifier{"cp"}, []string{"key", "value", "wall", "logical", "origin", "base_wall", "base_logical", "base_origin", "epoch", "tombstone"}, pgx.CopyFromRows(rows))
			if err != nil {
				t.Fatal(err)
			}
			tx.Commit(ctx)
			tCp += time.Since(st)
		}
		t.Logf("n=%d insert-unnest %v/batch (%.0f rows/s), copy %v/batch (%.0f rows/s)", n, tIns/10, float64(10*n)/tIns.Seconds(), tCp/10, float64(10*n)/tCp.Seconds())
	}
}
