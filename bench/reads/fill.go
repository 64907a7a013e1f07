package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/store/pgstore"
)

const (
	writerRegion   xregion.Region = "a"
	peerRegion     xregion.Region = "b" // the writer's peer
	receiverRegion xregion.Region = "r"

	table     = "orders"
	keySpace  = 100_000
	valueSize = 100
	// receiverOwn is how many of its own changes the receiver's peer
	// lacks: the receiver writes one every receiverEvery transactions of
	// its tail.
	receiverOwn   = 5
	receiverEvery = 40
	// visibleWithin bounds the wait for every transaction on the server
	// to end, so that Changes returns the whole tail.
	visibleWithin = 2 * time.Minute
)

// bench holds the two stores and where their shippers' watermarks stand.
type bench struct {
	cfg      config
	pool     *pgxpool.Pool
	writer   *pgstore.Store
	receiver *pgstore.Store
	// writerWM and receiverWM are what the peers have applied of each
	// store's own changes: the last one before its live tail.
	writerWM, receiverWM xregion.Position

	seq     int64 // versions' wall times, so last-write-wins takes every write
	peerPos map[*pgstore.Store]uint64
	rng     *rand.Rand
}

func newBench(ctx context.Context, pool *pgxpool.Pool, cfg config) (*bench, error) {
	b := &bench{cfg: cfg, pool: pool, seq: time.Now().UnixNano(), peerPos: map[*pgstore.Store]uint64{}, rng: rand.New(rand.NewPCG(14, 2))}
	for _, s := range []struct {
		store  **pgstore.Store
		region xregion.Region
		schema string
	}{{&b.writer, writerRegion, "writer"}, {&b.receiver, receiverRegion, "receiver"}} {
		st, err := pgstore.New(ctx, pool, s.region, pgstore.WithSchema(s.schema))
		if err != nil {
			return nil, fmt.Errorf("open the %s store: %w", s.schema, err)
		}
		clock, err := xregion.NewClock(xregion.SystemClock{})
		if err != nil {
			return nil, err
		}
		resolver, err := lww.New(clock)
		if err != nil {
			return nil, err
		}
		if err := st.DefineTable(ctx, table, resolver); err != nil {
			return nil, err
		}
		*s.store = st
	}
	return b, nil
}

// batch returns n writes of origin over the key space, as local writes of
// the store's region or as a peer batch from that origin, which moves the
// peer's watermark.
func (b *bench) batch(st *pgstore.Store, origin xregion.Region, n int) xregion.Batch {
	var out xregion.Batch
	if origin != st.Region() {
		out.From, out.After = origin, xregion.Position{Tx: b.peerPos[st]}
		b.peerPos[st]++
		out.Through = xregion.Position{Tx: b.peerPos[st]}
	}
	for range n {
		b.seq++
		v := make([]byte, valueSize)
		for i := 0; i < len(v); i += 8 {
			x := b.rng.Uint64()
			for j := i; j < min(i+8, len(v)); j++ {
				v[j], x = byte(x), x>>8
			}
		}
		out.Writes = append(out.Writes, xregion.Write{Table: table, Record: xregion.Record{
			Key: fmt.Sprintf("k%06d", b.rng.IntN(keySpace)), Value: v,
			Version: xregion.Version{Time: xregion.Timestamp{WallTime: b.seq}, Region: origin},
		}})
	}
	return out
}

// fill brings both changelogs to about size rows: bulk batches, VACUUM
// ANALYZE, then the live tail after the shippers' watermarks.
func (b *bench) fill(ctx context.Context, size int) error {
	have, err := b.count(ctx)
	if err != nil {
		return err
	}
	tail := int(float64(b.cfg.pending) / b.cfg.local) // about the writer's tail
	bulk := max(size-int(have)-tail, 0)
	// The first fill gives the receiver its writes of long ago.
	if have == 0 {
		if err := b.apply(ctx, b.receiver, b.batch(b.receiver, receiverRegion, 100)); err != nil {
			return err
		}
	}
	// The two stores fill at once, each from its own batches, made here in
	// order so that the run is the same every time.
	var writerBatches, receiverBatches []xregion.Batch
	for n := 0; n < bulk; n += b.cfg.batch {
		w := min(b.cfg.batch, bulk-n)
		origin := writerRegion
		if b.rng.Float64() >= b.cfg.local {
			origin = peerRegion
		}
		writerBatches = append(writerBatches, b.batch(b.writer, origin, w))
		receiverBatches = append(receiverBatches, b.batch(b.receiver, writerRegion, w))
	}
	var (
		wg   sync.WaitGroup
		errs = make([]error, 2)
	)
	for i, job := range []struct {
		st      *pgstore.Store
		batches []xregion.Batch
	}{{b.writer, writerBatches}, {b.receiver, receiverBatches}} {
		wg.Go(func() {
			for _, batch := range job.batches {
				if errs[i] = b.apply(ctx, job.st, batch); errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, schema := range []string{b.writer.Schema(), b.receiver.Schema()} {
		for _, t := range []string{"_changelog", table} {
			if _, err := b.pool.Exec(ctx, `VACUUM ANALYZE `+pgx.Identifier{schema, t}.Sanitize()); err != nil {
				return fmt.Errorf("vacuum %s.%s: %w", schema, t, err)
			}
		}
	}
	return b.liveTail(ctx)
}

// liveTail sets the shippers' watermarks at each store's last change of
// its own, then writes the tails after them: small transactions, in the
// writer until its peer lacks cfg.pending of its changes, in the receiver
// receiverOwn of its own among batches from a.
func (b *bench) liveTail(ctx context.Context) error {
	var err error
	if b.writerWM, err = b.lastOwn(ctx, b.writer); err != nil {
		return err
	}
	if b.receiverWM, err = b.lastOwn(ctx, b.receiver); err != nil {
		return err
	}
	for own := 0; own < b.cfg.pending; {
		n := 1 + b.rng.IntN(3)
		origin := peerRegion
		if b.rng.Float64() < b.cfg.local {
			origin, n = writerRegion, min(n, b.cfg.pending-own)
			own += n
		}
		if err := b.apply(ctx, b.writer, b.batch(b.writer, origin, n)); err != nil {
			return err
		}
	}
	for i := range receiverOwn * receiverEvery {
		var batch xregion.Batch
		if i%receiverEvery == receiverEvery-1 {
			batch = b.batch(b.receiver, receiverRegion, 1)
		} else {
			batch = b.batch(b.receiver, writerRegion, 1+b.rng.IntN(3))
		}
		if err := b.apply(ctx, b.receiver, batch); err != nil {
			return err
		}
	}
	return b.visible(ctx)
}

func (b *bench) apply(ctx context.Context, st *pgstore.Store, batch xregion.Batch) error {
	res, err := st.Apply(ctx, batch)
	if err != nil {
		return fmt.Errorf("fill %s: %w", st.Schema(), err)
	}
	if res.Applied != len(batch.Writes) {
		return fmt.Errorf("fill %s: %d of %d writes applied; every write should win", st.Schema(), res.Applied, len(batch.Writes))
	}
	return nil
}

// lastOwn reads the position of the store's last change of its own region
// straight from its changelog, so that no call of the store's runs before
// the measurement does; the zero Position if it has none.
func (b *bench) lastOwn(ctx context.Context, st *pgstore.Store) (xregion.Position, error) {
	var (
		tx  int64
		idx int32
	)
	err := b.pool.QueryRow(ctx, `SELECT tx, idx FROM `+pgx.Identifier{st.Schema(), "_changelog"}.Sanitize()+`
		WHERE origin = $1 ORDER BY tx DESC, idx DESC LIMIT 1`, string(st.Region())).Scan(&tx, &idx)
	if errors.Is(err, pgx.ErrNoRows) {
		return xregion.Position{}, nil // nothing of its own yet: the peer lacks all of it
	}
	if err != nil {
		return xregion.Position{}, fmt.Errorf("read the last change of %s: %w", st.Region(), err)
	}
	return xregion.Position{Tx: uint64(tx), Index: uint32(idx)}, nil
}

// count returns how many rows the writer's changelog holds.
func (b *bench) count(ctx context.Context) (int64, error) {
	var n int64
	err := b.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{b.writer.Schema(), "_changelog"}.Sanitize()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count the changelog: %w", err)
	}
	return n, nil
}

// visible waits until every transaction committed so far is readable
// through Store.Changes: until no transaction older than now is open
// anywhere on the server (see pgstore's Changes).
func (b *bench) visible(ctx context.Context) error {
	var next int64
	if err := b.pool.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&next); err != nil {
		return fmt.Errorf("read the next transaction id: %w", err)
	}
	deadline := time.Now().Add(visibleWithin)
	for {
		var xmin int64
		if err := b.pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&xmin); err != nil {
			return fmt.Errorf("read the oldest open transaction: %w", err)
		}
		if xmin >= next {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a transaction older than %d is still open on the server after %s, hiding the tail from Changes", next, visibleWithin)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
