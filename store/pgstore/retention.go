package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xregion/xregion"
)

var _ xregion.Retainer = (*Store)(nil)

// The tables retention keeps its own state in.
const (
	// truncatedTable holds, per origin, the last changelog entry
	// TruncateChanges removed: Changes refuses to read from before it.
	truncatedTable = "_truncated"
	// readersTable holds, per ledger reader, the entry it acknowledged
	// through (AckLostUpdates).
	readersTable = "_ledger_readers"
)

// setupRetention creates retention's tables; setup runs it in its
// transaction.
func (s *Store) setupRetention(ctx context.Context, tx pgx.Tx) error {
	for _, stmt := range []string{
		// tx, idx and at are the last entry removed; origin_tx and
		// origin_idx the furthest place in the origin's changelog of those
		// removed (xregion.Change.OriginPos).
		`CREATE TABLE IF NOT EXISTS ` + s.ident(truncatedTable) + ` (
			origin text PRIMARY KEY,
			tx bigint NOT NULL,
			idx integer NOT NULL,
			at timestamptz NOT NULL,
			origin_tx bigint NOT NULL,
			origin_idx integer NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + s.ident(readersTable) + ` (
			reader text PRIMARY KEY,
			through bigint NOT NULL)`,
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create retention tables: %w", err)
		}
	}
	return nil
}

// tombIndex names the partial index of a data table's tombstones, by
// version, which CollectTombstones reads.
func tombIndex(table string) string { return derivedName("_tomb_", table) }

// indexTombstones creates the table's tombstone index if the catalog says it
// is missing (CREATE INDEX locks the table even when it has nothing to do).
// It holds only tombstones, so the write path pays for it only on deletes.
func (s *Store) indexTombstones(ctx context.Context, tx pgx.Tx, table string) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{s.schema, tombIndex(table)}.Sanitize()).Scan(&exists); err != nil {
		return fmt.Errorf("inspect tombstone index of %s: %w", table, err)
	}
	if exists {
		return nil
	}
	if _, err := tx.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+pgx.Identifier{tombIndex(table)}.Sanitize()+
		` ON `+s.ident(table)+` (wall, logical) WHERE tombstone`); err != nil {
		return fmt.Errorf("index tombstones of %s: %w", table, err)
	}
	return nil
}

// TruncateChanges implements xregion.Retainer in one round trip and one
// statement: it takes the origin's first t.Limit entries within t.Through
// from the origin index, deletes those before the first that is not older
// than t.Before, moves the origin's mark, which Changes reads, and deletes
// the spans of Backlog (see backlog.go) that counted what it deleted. It
// holds the lock that cutting spans takes, so that no span is cut over
// rows it deletes.
func (s *Store) TruncateChanges(ctx context.Context, t xregion.Truncation) (int, error) {
	if err := t.Validate(); err != nil {
		return 0, fmt.Errorf("truncate changes: %w", err)
	}
	// A local change's OriginPos is its own place; the columns hold it for
	// changes applied from a peer's changelog.
	placed := "origin_tx AS otx, origin_idx AS oidx"
	if t.Origin == s.region {
		placed = "tx AS otx, idx AS oidx"
	}
	args := []any{string(t.Origin), t.Limit}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	// Bounded as ranges of (origin, tx, idx), with no "origin = $1" that
	// lets a plan (a generic one above all) read the primary key instead,
	// past every change of the other origins since the first: the origin
	// index alone serves this order.
	within := `(origin, tx) <= ($1, 9223372036854775807)`
	if !t.Through.IsZero() {
		p := fromPosition(t.Through)
		within = `(origin, tx, idx) <= ($1, ` + arg(p.tx) + `, ` + arg(p.idx) + `)`
	}
	stop := `false`
	if !t.Before.IsZero() {
		stop = `at >= ` + arg(t.Before)
	}
	var n int
	q := &pgx.Batch{}
	q.Queue("BEGIN")
	q.Queue(`SELECT pg_advisory_xact_lock(hashtextextended('xregion spans ' || $1 || ' ' || $2, 0))`, s.schema, string(t.Origin))
	q.Queue(`WITH head AS (
			SELECT ctid AS rid, tx, idx, at FROM `+s.ident(changelogTable)+`
			WHERE (origin, tx) >= ($1, 0) AND `+within+` ORDER BY origin, tx, idx LIMIT $2
		), stop AS (
			SELECT tx, idx FROM head WHERE `+stop+` ORDER BY tx, idx LIMIT 1
		), gone AS (
			DELETE FROM `+s.ident(changelogTable)+` WHERE ctid = ANY(ARRAY(
				SELECT rid FROM head WHERE NOT EXISTS (SELECT FROM stop WHERE (head.tx, head.idx) >= (stop.tx, stop.idx))))
			RETURNING tx, idx, at, `+placed+`
		), last AS (
			SELECT g.tx, g.idx, g.at, f.otx, f.oidx FROM (SELECT tx, idx, at FROM gone ORDER BY tx DESC, idx DESC LIMIT 1) AS g,
				(SELECT otx, oidx FROM gone ORDER BY otx DESC, oidx DESC LIMIT 1) AS f
		), marked AS (
			INSERT INTO `+s.ident(truncatedTable)+` AS m (origin, tx, idx, at, origin_tx, origin_idx)
			SELECT $1, tx, idx, at, otx, oidx FROM last
			ON CONFLICT (origin) DO UPDATE SET
				tx = CASE WHEN (m.tx, m.idx) < (excluded.tx, excluded.idx) THEN excluded.tx ELSE m.tx END,
				idx = CASE WHEN (m.tx, m.idx) < (excluded.tx, excluded.idx) THEN excluded.idx ELSE m.idx END,
				at = CASE WHEN (m.tx, m.idx) < (excluded.tx, excluded.idx) THEN excluded.at ELSE m.at END,
				origin_tx = CASE WHEN (m.origin_tx, m.origin_idx) < (excluded.origin_tx, excluded.origin_idx) THEN excluded.origin_tx ELSE m.origin_tx END,
				origin_idx = CASE WHEN (m.origin_tx, m.origin_idx) < (excluded.origin_tx, excluded.origin_idx) THEN excluded.origin_idx ELSE m.origin_idx END
		), spans AS (
			DELETE FROM `+s.ident(spanTable)+` WHERE origin = $1 AND lo <= (SELECT max(tx) FROM gone)
		)
		SELECT count(*) FROM gone`, args...).QueryRow(func(row pgx.Row) error { return row.Scan(&n) })
	q.Queue("COMMIT")
	if err := s.pool.SendBatch(ctx, q).Close(); err != nil {
		return 0, fmt.Errorf("truncate changes of %s: %w", t.Origin, err)
	}
	return n, nil
}

// Truncated implements xregion.Retainer.
func (s *Store) Truncated(ctx context.Context, origin xregion.Region) (xregion.Position, time.Time, error) {
	if err := origin.Validate(); err != nil {
		return xregion.Position{}, time.Time{}, fmt.Errorf("read truncation: %w", err)
	}
	var p position
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT tx, idx, at FROM `+s.ident(truncatedTable)+` WHERE origin = $1`, string(origin)).Scan(&p.tx, &p.idx, &at)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return xregion.Position{}, time.Time{}, nil
	case err != nil:
		return xregion.Position{}, time.Time{}, fmt.Errorf("read truncation of %s: %w", origin, err)
	}
	return p.position(), at, nil
}

// checkTruncated queues, after the query of Changes and in its
// transaction, the look for a mark past q.After, and sets *found to the
// error Changes returns if there is one. Read committed gives it a snapshot
// no older than the query's: a truncation the query missed rows of shows.
func (s *Store) checkTruncated(q xregion.ChangeQuery, found *error) func(*pgx.Batch) {
	return func(b *pgx.Batch) {
		after, placed := fromPosition(q.After), fromPosition(q.OriginAfter)
		b.Queue(`SELECT origin, tx, idx, at, origin_tx, origin_idx FROM `+s.ident(truncatedTable)+`
			WHERE (tx, idx) > ($1, $2) AND ($3 = '' OR origin = $3)
			  AND ($4::bigint = 0 AND $5::integer = 0 OR (origin_tx, origin_idx) > ($4::bigint, $5::integer))
			ORDER BY tx DESC, idx DESC LIMIT 1`,
			after.tx, after.idx, string(q.Origin), placed.tx, placed.idx).Query(func(rows pgx.Rows) error {
			e := &xregion.TruncatedError{Region: s.region, After: q.After}
			var p, o position
			_, err := pgx.ForEachRow(rows, []any{(*string)(&e.Origin), &p.tx, &p.idx, &e.Time, &o.tx, &o.idx}, func() error {
				e.Through, e.OriginPos = p.position(), o.position()
				*found = e
				return nil
			})
			return err
		})
	}
}

// CollectTombstones implements xregion.Retainer, one statement per table
// declared in this process, each through the table's tombstone index. Then
// it folds each table's range sums (sums.go), which grow by a row per
// written statement and bucket as the changelog grows by a row per change.
func (s *Store) CollectTombstones(ctx context.Context, before xregion.Timestamp, limit int) (int, error) {
	if err := xregion.ValidateRetainLimit(limit); err != nil {
		return 0, fmt.Errorf("collect tombstones: %w", err)
	}
	s.mu.RLock()
	tables := slices.Sorted(maps.Keys(s.mu.resolvers))
	s.mu.RUnlock()
	n := 0
	for _, t := range tables {
		if n == limit {
			break
		}
		var got int
		err := s.pool.QueryRow(ctx, `WITH gone AS (
				DELETE FROM `+s.ident(t)+` WHERE ctid = ANY(ARRAY(
					SELECT ctid FROM `+s.ident(t)+` AS r WHERE tombstone AND (wall, logical) < ($1, $2)
					  AND NOT EXISTS (SELECT FROM `+s.ident(inboxTable)+` AS i WHERE i.tbl = $3 AND i.key = r.key AND `+s.notWithdrawn("i")+`)
					LIMIT $4))
				  AND tombstone AND (wall, logical) < ($1, $2)
				RETURNING 1)
			SELECT count(*) FROM gone`, before.WallTime, before.Logical, t, limit-n).Scan(&got)
		if err != nil {
			return n, fmt.Errorf("collect tombstones of %s: %w", t, err)
		}
		n += got
	}
	for _, t := range tables {
		if err := s.compactSums(ctx, t); err != nil {
			return n, fmt.Errorf("collect tombstones: %w", err)
		}
	}
	return n, nil
}

// TrimLedger implements xregion.Retainer in one statement over the head of
// the ledger's primary key.
func (s *Store) TrimLedger(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := xregion.ValidateRetainLimit(limit); err != nil {
		return 0, fmt.Errorf("trim ledger: %w", err)
	}
	var b *time.Time
	if !before.IsZero() {
		b = &before
	}
	var n int
	err := s.pool.QueryRow(ctx, `WITH acked AS (
			SELECT count(*) AS readers, min(through) AS through FROM `+s.ident(readersTable)+`
		), head AS (
			SELECT id, at FROM `+s.ident(lostUpdateTable)+` ORDER BY id LIMIT $1
		), stop AS (
			SELECT min(id) AS id FROM head, acked
			WHERE NOT (coalesce(at < $2::timestamptz, false) OR acked.readers > 0 AND head.id <= acked.through)
		), gone AS (
			DELETE FROM `+s.ident(lostUpdateTable)+`
			WHERE id IN (SELECT id FROM head WHERE id < coalesce((SELECT id FROM stop), 9223372036854775807))
			RETURNING 1
		)
		SELECT count(*) FROM gone`, limit, b).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("trim ledger: %w", err)
	}
	return n, nil
}

// AckLostUpdates implements xregion.Retainer.
func (s *Store) AckLostUpdates(ctx context.Context, reader string, through int64) error {
	if err := xregion.ValidateReaderName(reader); err != nil {
		return fmt.Errorf("acknowledge lost updates: %w", err)
	}
	if through < 0 {
		return &xregion.InvalidError{What: "lost update acknowledgement", Reason: fmt.Sprintf("through %d; want an entry ID, 0 or more", through)}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO `+s.ident(readersTable)+` AS r (reader, through)
		VALUES ($1, least($2, coalesce((SELECT max(id) FROM `+s.ident(lostUpdateTable)+`), 0)))
		ON CONFLICT (reader) DO UPDATE SET through = greatest(r.through, excluded.through)`, reader, through)
	if err != nil {
		return fmt.Errorf("acknowledge lost updates of %s: %w", reader, err)
	}
	return nil
}

// sweepPage is how many staged writes SweepStage reads at a time.
const sweepPage = 1000

// SweepStage implements xregion.Retainer: it deletes the staged copies of
// withdrawn writes, then reads the stage in pages, resolves each write
// against its table's record as Apply would, and deletes those that would
// change nothing, then deletes old withdrawals. Each step is a statement of
// its own; a write staged meanwhile is looked at by the next call.
func (s *Store) SweepStage(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := xregion.ValidateRetainLimit(limit); err != nil {
		return 0, fmt.Errorf("sweep stage: %w", err)
	}
	var n int
	err := s.pool.QueryRow(ctx, `WITH gone AS (
			DELETE FROM `+s.ident(inboxTable)+` WHERE id = ANY(ARRAY(
				SELECT id FROM `+s.ident(inboxTable)+` AS i WHERE NOT `+s.notWithdrawn("i")+` ORDER BY id LIMIT $1))
			RETURNING 1)
		SELECT count(*) FROM gone`, limit).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sweep withdrawn writes off the stage: %w", err)
	}
	for after := int64(0); n < limit; {
		ids, last, more, err := s.settledPage(ctx, after)
		if err != nil {
			return n, fmt.Errorf("sweep stage: %w", err)
		}
		ids = ids[:min(len(ids), limit-n)]
		if len(ids) > 0 {
			tag, err := s.pool.Exec(ctx, `DELETE FROM `+s.ident(inboxTable)+` WHERE id = ANY($1)`, ids)
			if err != nil {
				return n, fmt.Errorf("sweep stage: %w", err)
			}
			n += int(tag.RowsAffected())
		}
		if !more {
			break
		}
		after = last
	}
	if before.IsZero() || n == limit {
		return n, nil
	}
	// A withdrawal fences a copy staged after it; one that still has a copy
	// in the inbox (staged since the first statement) stays.
	var fences int
	err = s.pool.QueryRow(ctx, `WITH gone AS (
			DELETE FROM `+s.ident(withdrawnTable)+` WHERE ctid = ANY(ARRAY(
				SELECT ctid FROM `+s.ident(withdrawnTable)+` AS w WHERE at < $1
				  AND NOT EXISTS (SELECT FROM `+s.ident(inboxTable)+` AS i
					WHERE i.from_region = w.from_region AND i.tbl = w.tbl AND i.key = w.key
					  AND i.wall = w.wall AND i.logical = w.logical AND i.origin = w.origin)
				ORDER BY at LIMIT $2))
			RETURNING 1)
		SELECT count(*) FROM gone`, before, limit-n).Scan(&fences)
	if err != nil {
		return n, fmt.Errorf("sweep withdrawals: %w", err)
	}
	return n + fences, nil
}

// settledPage reads the page of staged writes after id after and returns
// the ids of those applying would change nothing with (see
// settledLocked in memstore, the reference), the last id read, and whether
// there may be more.
func (s *Store) settledPage(ctx context.Context, after int64) (ids []int64, last int64, more bool, err error) {
	type row struct {
		id    int64
		table string
		rec   xregion.Record
	}
	var (
		page []row
		r    row
	)
	err = s.forEachRow(ctx, `SELECT id, tbl, key, `+recordColumns+` FROM `+s.ident(inboxTable)+` AS i
		WHERE id > $1 AND `+s.notWithdrawn("i")+` ORDER BY id LIMIT $2`, []any{after, sweepPage},
		append([]any{&r.id, &r.table}, recordDest(&r.rec)...), func() error {
			page = append(page, r)
			r = row{}
			return nil
		})
	if err != nil || len(page) == 0 {
		return nil, 0, false, err
	}
	last, more = page[len(page)-1].id, len(page) == sweepPage

	// The stored records of the page's keys, table by table.
	byTable := map[string][]string{}
	for _, r := range page {
		byTable[r.table] = append(byTable[r.table], r.rec.Key)
	}
	stored := map[[2]string]xregion.Record{}
	for t, keys := range byTable {
		if _, err := s.resolver(t); err != nil {
			continue // not declared here: nothing to resolve with
		}
		var rec xregion.Record
		err := s.forEachRow(ctx, `SELECT key, `+recordColumns+` FROM `+s.ident(t)+` WHERE key = ANY($1)`, []any{keys},
			recordDest(&rec), func() error {
				stored[[2]string{t, rec.Key}] = rec
				rec = xregion.Record{}
				return nil
			})
		if err != nil {
			return nil, 0, false, fmt.Errorf("read %s: %w", t, err)
		}
	}

	// Resolve each; those that would record a loss are settled only if the
	// ledger has it.
	var losers []row
	var loss []lostID
	for _, r := range page {
		res, err := s.resolver(r.table)
		if err != nil {
			continue
		}
		out, err := res.Resolve(stored[[2]string{r.table, r.rec.Key}], r.rec)
		switch {
		case err != nil || out.Changed:
		case out.Lost != nil:
			losers = append(losers, r)
			loss = append(loss, lostID{r.table, out.Lost.Key, out.Lost.Version})
		default:
			ids = append(ids, r.id)
		}
	}
	if len(losers) == 0 {
		return ids, last, more, nil
	}
	tbl := make([]string, len(loss))
	var recs recordArrays
	for i, l := range loss {
		tbl[i] = l.table
		recs.add(xregion.Record{Key: l.key, Version: l.version})
	}
	recorded := map[lostID]bool{}
	var id lostID
	err = s.forEachRow(ctx, `SELECT l.tbl, l.key, l.wall, l.logical, l.origin FROM `+s.ident(lostUpdateTable)+` AS l
		JOIN unnest($1::text[], $2::text[], $3::int8[], $4::int4[], $5::text[]) AS u(tbl, key, wall, logical, origin)
		  ON l.tbl = u.tbl AND l.key = u.key AND l.wall = u.wall AND l.logical = u.logical AND l.origin = u.origin`,
		[]any{tbl, recs.keys, recs.walls, recs.logicals, recs.origins},
		[]any{&id.table, &id.key, &id.version.Time.WallTime, &id.version.Time.Logical, (*string)(&id.version.Region)},
		func() error { recorded[id] = true; return nil })
	if err != nil {
		return nil, 0, false, fmt.Errorf("look up lost updates: %w", err)
	}
	for i, r := range losers {
		if recorded[loss[i]] {
			ids = append(ids, r.id)
		}
	}
	return ids, last, more, nil
}
