package pgstore

import (
	"context"
	"fmt"

	"github.com/xregion/xregion"
)

// Changes implements xregion.Store.
//
// The outbox trap: two transactions take changelog places and commit in the
// opposite order. A reader that has passed the later one must still get the
// earlier one when it commits. Changes are therefore ordered by the 64-bit id
// of the transaction that wrote them, and returned only from transactions
// older than the oldest transaction still open in the cluster
// (pg_snapshot_xmin): those are all finished, and every transaction still to
// commit has a larger id, so it sorts after everything returned.
//
// HAZARD: any transaction left open on the same PostgreSQL server, in any
// database, holds back every changelog behind it until it ends. The lag it
// causes is real and shows in the replication lag and in Horizon; keep
// transactions short (see the package doc).
func (s *Store) Changes(ctx context.Context, q xregion.ChangeQuery) ([]xregion.Change, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	from := fromPosition(q.After)
	// With an origin, the page is one range of the origin index, bounded
	// as (origin, tx, idx) and ordered by origin first, which only that
	// index serves. Bounded by origin = $4 and (tx, idx) instead, the scan
	// started at the origin's first change (215 ms at 800,000 of them), or
	// a generic plan took the primary key, reading past every change of
	// other origins since the position.
	where := `(tx, idx) > ($1, $2) AND tx < ` + s.horizon()
	order := `tx, idx`
	args := []any{from.tx, from.idx, q.Limit}
	if q.Origin != "" {
		where = `(origin, tx, idx) > ($4, $1, $2) AND (origin, tx) < ($4, ` + s.horizon() + `)`
		order = `origin, tx, idx`
		args = append(args, string(q.Origin))
	}
	if !q.OriginAfter.IsZero() {
		// A local change's OriginPos is its own place; the columns hold
		// it for changes applied from a peer's changelog.
		cols := "origin_tx, origin_idx"
		if q.Origin == s.region {
			cols = "tx, idx"
		}
		o := fromPosition(q.OriginAfter)
		where += ` AND (` + cols + `) > ($5, $6)`
		args = append(args, o.tx, o.idx)
	}
	sql := `SELECT tx, idx, origin_tx, origin_idx, tbl, key, ` + recordColumns + `, at FROM ` + s.ident(changelogTable) + `
		WHERE ` + where + ` ORDER BY ` + order + ` LIMIT $3`
	var (
		out    []xregion.Change
		c      xregion.Change
		p, opo position
	)
	dest := append([]any{&p.tx, &p.idx, &opo.tx, &opo.idx, &c.Table}, recordDest(&c.Record)...)
	// A read of a few hundred changes from an index: parallel workers cost
	// more to start (35 to 47 ms measured) than the read itself (0.2 ms).
	var truncated error
	err := s.forEachRowAfter(ctx, q.After, true, noParallel, sql, args, append(dest, &c.Time), func() error {
		c.Pos, c.OriginPos = p.position(), opo.position()
		if c.Origin() == s.region {
			c.OriginPos = c.Pos
		}
		out = append(out, c)
		c = xregion.Change{}
		return nil
	}, s.checkTruncated(q, &truncated))
	if err == nil {
		err = truncated
	}
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return out, nil
}

var noParallel = []string{"max_parallel_workers_per_gather = 0"}

// LostUpdates implements xregion.Store.
func (s *Store) LostUpdates(ctx context.Context, after int64, limit int) ([]xregion.LostUpdate, error) {
	if limit < 1 || limit > xregion.MaxChangeLimit {
		return nil, &xregion.InvalidError{What: "ledger query", Reason: fmt.Sprintf("limit %d; want 1 to %d", limit, xregion.MaxChangeLimit)}
	}
	var (
		out    []xregion.LostUpdate
		l      xregion.LostUpdate
		reason string
	)
	dest := append([]any{&l.ID, &l.Table}, recordDest(&l.Lost)...)
	dest = append(dest, &reason, &l.Winner.Time.WallTime, &l.Winner.Time.Logical, (*string)(&l.Winner.Region), (*string)(&l.Region), &l.At)
	err := s.forEachRow(ctx, `SELECT id, tbl, key, `+recordColumns+`, reason, winner_wall, winner_logical, winner_origin, region, at
		FROM `+s.ident(lostUpdateTable)+` WHERE id > $1 ORDER BY id LIMIT $2`, []any{after, limit}, dest, func() error {
		var err error
		if l.Reason, err = xregion.ParseLossReason(reason); err != nil {
			return err
		}
		out = append(out, l)
		l = xregion.LostUpdate{}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read lost updates: %w", err)
	}
	return out, nil
}
