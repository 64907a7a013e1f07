package pgstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/regiontest"
	"github.com/xregion/xregion/store/pgstore"
	"github.com/xregion/xregion/store/storetest"
)

var schemas atomic.Int64

// newStore opens a store in a schema of its own on pool.
func newStore(t testing.TB, pool *pgxpool.Pool, region xregion.Region, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	opts = append([]pgstore.Option{pgstore.WithSchema(fmt.Sprintf("s%d", schemas.Add(1)))}, opts...)
	s, err := pgstore.New(context.Background(), pool, region, opts...)
	require.NoError(t, err)
	return s
}

// TestStore_Contract runs the contract suite on the paths Apply takes: as
// it chooses, with every new row written by COPY (large batches), and with
// every batch's rows sent as arrays through unnest (more than a few rows);
// and with Backlog cutting spans of two changes (see backlog.go), which at
// the default size only a long changelog would.
func TestStore_Contract(t *testing.T) {
	for name, path := range map[string]func(*pgstore.Store){
		"chosen": func(*pgstore.Store) {},
		"copy":   pgstore.AlwaysCopy,
		"unnest": pgstore.NeverValues,
		"spans":  func(s *pgstore.Store) { pgstore.SmallSpans(s, 2, 3) },
	} {
		t.Run(name, func(t *testing.T) {
			pool := regiontest.Database(t)
			storetest.Run(t, func(t *testing.T, region xregion.Region) xregion.Store {
				s := newStore(t, pool, region)
				path(s)
				return s
			})
		})
	}
}

// takeIncoming is a resolver that stores every write it is given.
var takeIncoming = xregion.ResolverFunc(func(_, in xregion.Record) (xregion.Resolution, error) {
	return xregion.Resolution{Record: in, Changed: true}, nil
})

func write(key string, wall int64) xregion.Batch {
	return xregion.Batch{Writes: []xregion.Write{{Table: "orders", Record: xregion.Record{
		Key: key, Value: []byte(key), Version: xregion.Version{Time: xregion.Timestamp{WallTime: wall}, Region: "a"},
	}}}}
}

// TestStore_Changes_OutboxTrap provokes the outbox trap on PostgreSQL: a
// transaction takes the lower changelog place and is held open while a later
// one commits and is read; then the first commits. The reader must get both,
// each once, in place order.
func TestStore_Changes_OutboxTrap(t *testing.T) {
	ctx := t.Context()
	pool := regiontest.Database(t)
	writer := newStore(t, pool, "a")
	// A second Store value on the same schema acts as a second process.
	other, err := pgstore.New(ctx, pool, "a", pgstore.WithSchema(writer.Schema()))
	require.NoError(t, err)
	for _, s := range []*pgstore.Store{writer, other} {
		require.NoError(t, s.DefineTable(ctx, "orders", takeIncoming))
	}

	held, release := make(chan struct{}), make(chan struct{})
	pgstore.SetBeforeCommit(writer, func() { close(held); <-release })
	firstDone := make(chan error, 1)
	go func() {
		_, err := writer.Apply(ctx, write("first", 1))
		firstDone <- err
	}()
	<-held // "first" has written its change and holds its transaction open

	_, err = other.Apply(ctx, write("second", 2))
	require.NoError(t, err)
	got, err := other.Get(ctx, "orders", "second")
	require.NoError(t, err, "the later transaction must really have committed")
	require.Equal(t, "second", got.Key)

	var read []xregion.Change
	after := xregion.Position{}
	readMore := func() error {
		cs, err := other.Changes(ctx, xregion.ChangeQuery{After: after, Limit: 100})
		for _, c := range cs {
			read = append(read, c)
			after = c.Pos
		}
		return err
	}
	// A naive reader would get "second" here and move past "first".
	require.NoError(t, readMore())

	close(release)
	require.NoError(t, <-firstDone)
	require.Eventually(t, func() bool { return readMore() == nil && len(read) >= 2 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, readMore())

	require.Len(t, read, 2, "each change exactly once")
	require.Equal(t, "first", read[0].Record.Key, "the transaction that took the lower place comes first")
	require.Equal(t, "second", read[1].Record.Key)
	require.True(t, read[0].Pos.Less(read[1].Pos))
}

func TestNew_RefusesAnotherRegionsSchema(t *testing.T) {
	pool := regiontest.Database(t)
	a := newStore(t, pool, "a")
	_, err := pgstore.New(t.Context(), pool, "b", pgstore.WithSchema(a.Schema()))
	require.ErrorIs(t, err, xregion.ErrRegionMismatch)
	require.Contains(t, err.Error(), `holds region "a", not "b"`)

	again, err := pgstore.New(t.Context(), pool, "a", pgstore.WithSchema(a.Schema()))
	require.NoError(t, err, "reopening for the same region is fine")
	require.Equal(t, a.Schema(), again.Schema())
}

func TestNew_Invalid(t *testing.T) {
	pool := regiontest.Database(t)
	for name, c := range map[string]struct {
		pool   *pgxpool.Pool
		region xregion.Region
		opts   []pgstore.Option
	}{
		"nil pool":        {nil, "a", nil},
		"bad region":      {pool, "A B", nil},
		"injected schema": {pool, "a", []pgstore.Option{pgstore.WithSchema(`x"; DROP SCHEMA public; --`)}},
		"upper schema":    {pool, "a", []pgstore.Option{pgstore.WithSchema("Xregion")}},
		"system schema":   {pool, "a", []pgstore.Option{pgstore.WithSchema("pg_xregion")}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := pgstore.New(t.Context(), c.pool, c.region, c.opts...)
			require.ErrorIs(t, err, xregion.ErrInvalid)
		})
	}
}

// TestStore_Apply_OutcomeUnknown cuts the network after the writes were sent
// and while COMMIT is on its way: Apply cannot know whether the batch
// committed, and must say so rather than report it lost or safe. Once the
// network heals, the held COMMIT reaches the server: it did commit.
func TestStore_Apply_OutcomeUnknown(t *testing.T) {
	region := regiontest.New(t, regiontest.WithRegions("a")).Region("a")
	s, err := pgstore.New(t.Context(), region.Pool, "a")
	require.NoError(t, err)
	require.NoError(t, s.DefineTable(t.Context(), "orders", takeIncoming))
	pgstore.SetBeforeCommit(s, region.Proxy.Blackhole)

	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	_, err = s.Apply(ctx, write("k", 1))
	require.ErrorIs(t, err, xregion.ErrOutcomeUnknown)

	region.Proxy.Heal()
	direct, err := pgstore.New(t.Context(), region.Direct, "a")
	require.NoError(t, err)
	require.NoError(t, direct.DefineTable(t.Context(), "orders", takeIncoming))
	require.Eventually(t, func() bool {
		_, err := direct.Get(t.Context(), "orders", "k")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond, "the held COMMIT was delivered after the heal, so the batch committed")
}

// TestStore_NeverScansATable grows a table from empty under Apply, as a new
// region or a peer catching up does, reading it all along, and checks
// PostgreSQL's own counters: no statement read a whole table. Plans cached
// while the tables were small once did, for every key of every batch.
func TestStore_NeverScansATable(t *testing.T) {
	ctx := t.Context()
	shared := regiontest.Database(t)
	// Each phase runs on a pool of its own, closed at its end: backends
	// report their counters as they exit.
	phase := func(run func(s *pgstore.Store)) {
		pool, err := pgxpool.NewWithConfig(ctx, shared.Config())
		require.NoError(t, err)
		defer pool.Close()
		s, err := pgstore.New(ctx, pool, "a")
		require.NoError(t, err)
		require.NoError(t, s.DefineTable(ctx, "orders", takeIncoming))
		run(s)
	}
	// scanned returns how many rows whole-table scans of the store's
	// tables have read so far, once the counters of the phase's backends
	// have arrived.
	scanned := func(lookupsAtLeast int64) (seq int64) {
		require.Eventually(t, func() bool {
			var idx int64
			err := shared.QueryRow(ctx, `SELECT coalesce(sum(seq_tup_read), 0), coalesce(sum(idx_scan), 0)
				FROM pg_stat_user_tables WHERE schemaname = $1`, pgstore.DefaultSchema).Scan(&seq, &idx)
			return err == nil && idx >= lookupsAtLeast
		}, 10*time.Second, 20*time.Millisecond)
		return seq
	}

	phase(func(s *pgstore.Store) { // creating tables and indexes scans them
		_, err := s.Get(ctx, "orders", "k") // an index lookup, to see the counters arrive
		require.ErrorIs(t, err, xregion.ErrNotFound)
	})
	before := scanned(1)

	batch := func(from xregion.Region, n, first int, wall int64) xregion.Batch {
		b := xregion.Batch{From: from}
		for i := range n {
			b.Writes = append(b.Writes, xregion.Write{Table: "orders", Record: xregion.Record{
				Key: fmt.Sprintf("k-%06d", first+i), Value: []byte("v"),
				Version: xregion.Version{Time: xregion.Timestamp{WallTime: wall}, Region: "b"}}})
		}
		return b
	}
	// read reads the tables as replicators do, at their end: after a
	// transaction id the server has just issued, past every change.
	read := func(s *pgstore.Store) {
		var tx int64
		require.NoError(t, shared.QueryRow(ctx, `SELECT pg_current_xact_id()::text::bigint`).Scan(&tx))
		end := xregion.Position{Tx: uint64(tx)}
		_, err := s.Get(ctx, "orders", "k-000000")
		require.NoError(t, err)
		_, err = s.Changes(ctx, xregion.ChangeQuery{After: end, Origin: "b", Limit: 100})
		require.NoError(t, err)
		_, err = s.Backlog(ctx, end, "b")
		require.NoError(t, err)
		_, err = s.LostUpdates(ctx, 1<<62, 100)
		require.NoError(t, err)
	}
	phase(func(s *pgstore.Store) {
		wall := int64(1)
		for i := range 20 { // small batches: plans are made while the table is tiny
			_, err := s.Apply(ctx, batch("", 1, i, wall))
			require.NoError(t, err)
			read(s)
			wall++
		}
		at := xregion.Position{}
		for i := range 10 { // then the table grows; half of each batch updates
			b := batch("b", 1000, i*500, wall)
			b.After, b.Through = at, xregion.Position{Tx: uint64(i + 1)}
			_, err := s.Apply(ctx, b)
			require.NoError(t, err)
			read(s)
			at, wall = b.Through, wall+1
		}
	})
	// New reads the one row of _meta; a scan of a grown table would read
	// thousands.
	t.Logf("rows read by whole-table scans: %d", scanned(100)-before)
	require.Less(t, scanned(100)-before, int64(5000), "rows read by whole-table scans")
}
