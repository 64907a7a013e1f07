package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xregion/xregion"
)

// positionsTable holds, in one row, what ties the changelog's positions to
// the server's transaction ids (see the package doc, Positions across a
// restore): shift, added to the writing transaction's id to make a
// position's Tx; high, a position every position issued since sorts
// after, taken when the store was last opened; the server's system
// identifier then, which tells a restore onto another cluster from one
// onto the same; and when AdvancePositions last moved them.
const positionsTable = "_positions"

// nextSQL is the first position the changelog would issue now, read from
// the statement's snapshot: every transaction id assigned so far is below
// its xmax. topSQL is the highest position the changelog holds or has
// seen issued; in a healthy store it is always below nextSQL.
const (
	nextSQL = `pg_snapshot_xmax(pg_current_snapshot())::text::bigint + p.shift`
	topSQL  = `greatest(p.high, coalesce((SELECT max(tx) FROM %s), 0))`
)

// positionsSQL reads nextSQL and topSQL. With all, the top counts also
// the last entry retention removed (the changelog may be empty) and the
// ends of Backlog's spans (a span ends where the horizon stood, and claims
// every position before it: a new change inside one would go uncounted).
// That reads every span, so only New and AdvancePositions ask.
//
// Reads of the positions row name it (WHERE one) so that its index serves
// them: with sequential scans turned off (see forEachRow), a scan of the
// table costs the planner 10^10 and the statement is compiled by JIT,
// which took 80 to 170 ms a call.
func (s *Store) positionsSQL(all bool) string {
	top := fmt.Sprintf(topSQL, s.ident(changelogTable))
	if all {
		top = `greatest(` + top + `, coalesce((SELECT max(tx) FROM ` + s.ident(truncatedTable) + `), 0),
			coalesce((SELECT max(hi) FROM ` + s.ident(spanTable) + `), 0) - 1)`
	}
	return `SELECT ` + nextSQL + `, ` + top + ` FROM ` + s.ident(positionsTable) + ` AS p WHERE p.one`
}

// horizon is the SQL of the position Changes reads up to (exclusive): that
// of the oldest transaction still open anywhere on the server.
func (s *Store) horizon() string {
	return `(pg_snapshot_xmin(pg_current_snapshot())::text::bigint + (SELECT shift FROM ` + s.ident(positionsTable) + ` WHERE one))`
}

// setupPositions creates the positions row if it is missing and checks it
// against the server, in set-up's transaction: a changelog holding a
// position at or beyond the next the server would give it came from a
// server that had counted further, and the store refuses to write (Apply)
// until AdvancePositions. A healthy store records the server's identifier
// and how far it has counted.
func (s *Store) setupPositions(ctx context.Context, tx pgx.Tx) error {
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS ` + s.ident(positionsTable) + ` (
			one boolean PRIMARY KEY DEFAULT true CHECK (one),
			shift bigint NOT NULL DEFAULT 0,
			high bigint NOT NULL DEFAULT 0,
			system_id text,
			advanced_at timestamptz)`,
		`INSERT INTO ` + s.ident(positionsTable) + ` DEFAULT VALUES ON CONFLICT (one) DO NOTHING`,
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create positions: %w", err)
		}
	}
	sysid, err := systemID(ctx, tx)
	if err != nil {
		return err
	}
	var next, top int64
	if err := tx.QueryRow(ctx, s.positionsSQL(true)).Scan(&next, &top); err != nil {
		return fmt.Errorf("read positions: %w", err)
	}
	if top >= next {
		e, err := s.positionsError(ctx, tx, position{tx: top}, next, true, sysid)
		if err != nil {
			return err
		}
		s.reset.Store(e)
		return nil
	}
	s.reset.Store(nil)
	if _, err := tx.Exec(ctx, `UPDATE `+s.ident(positionsTable)+` SET high = greatest(high, $1), system_id = coalesce($2, system_id) WHERE one`,
		next-1, sysid); err != nil {
		return fmt.Errorf("record positions: %w", err)
	}
	return nil
}

// systemID returns the server's system identifier, or nil where the role
// may not read it (pg_control_system is the superuser's unless granted):
// it only names the cause in a *PositionsError. It runs in a savepoint, so
// a refusal leaves tx usable.
func systemID(ctx context.Context, tx pgx.Tx) (*string, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("read system identifier: %w", err)
	}
	var id string
	err = sp.QueryRow(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&id)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42501": // insufficient_privilege
		return nil, sp.Rollback(ctx)
	case err != nil:
		return nil, fmt.Errorf("read system identifier: %w", err)
	}
	return &id, sp.Commit(ctx)
}

// querier is what positionsError reads with: a transaction or the pool.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// positionsError describes positions that went back, with what the store
// can tell of the cause: the server's system identifier against the one
// recorded when the changelog was last healthy. sysid is the server's, if
// already read, or nil to read it.
func (s *Store) positionsError(ctx context.Context, q querier, beyond position, next int64, held bool, sysid *string) (*xregion.PositionsError, error) {
	var was *string
	if err := q.QueryRow(ctx, `SELECT system_id FROM `+s.ident(positionsTable)+` WHERE one`).Scan(&was); err != nil {
		return nil, fmt.Errorf("read positions: %w", err)
	}
	if sysid == nil {
		var id string
		if err := q.QueryRow(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&id); err == nil {
			sysid = &id
		}
	}
	var cause string
	switch {
	case sysid != nil && was != nil && *sysid != *was:
		cause = fmt.Sprintf("It runs on another PostgreSQL cluster (system identifier %s; it was %s), whose transaction ids "+
			"are behind: restored from a logical dump, or upgraded by dump and restore or logical replication", *sysid, *was)
	case sysid != nil && was != nil:
		cause = fmt.Sprintf("It runs on the same PostgreSQL cluster (system identifier %s), whose transaction ids went "+
			"back: restored from a backup to an earlier point in time, or a lagging standby promoted", *sysid)
	default:
		cause = "It was restored from a logical dump or a backup onto a server whose transaction ids are behind, " +
			"upgraded by dump and restore, or a lagging standby was promoted"
	}
	return &xregion.PositionsError{Region: s.region, Beyond: beyond.position(), Next: position{tx: next}.position(), Held: held,
		Reason: cause + ". Way forward: advance the changelog past the highest watermark the peers hold for " + string(s.region) +
			" (replicate.AdvancePositions), then resync the regions (resync.Run with resync.WithDigestsOnly)"}, nil
}

// forEachRowAfter is forEachRowSet for a read of the changelog after
// position after: in the same round trip it checks that after (and, with
// held, every position the changelog holds) lies before the next position
// the server would issue, and fails with a *xregion.PositionsError if not,
// whatever the query read.
func (s *Store) forEachRowAfter(ctx context.Context, after xregion.Position, held bool, settings []string, sql string, args []any,
	dest []any, fn func() error, then ...func(*pgx.Batch)) error {
	var next, top int64
	check := func(q *pgx.Batch) {
		q.Queue(s.positionsSQL(false)).QueryRow(func(row pgx.Row) error { return row.Scan(&next, &top) })
	}
	if err := s.forEachRowSet(ctx, settings, sql, args, dest, fn, append(then, check)...); err != nil {
		return err
	}
	if !held {
		top = 0
	}
	return s.checkPositions(ctx, fromPosition(after), next, top)
}

// checkPositions returns a *xregion.PositionsError if after, or top (the
// highest position the changelog holds), is at or beyond next.
func (s *Store) checkPositions(ctx context.Context, after position, next, top int64) error {
	beyond, held := after, false
	switch {
	case after.tx >= next:
	case top >= next:
		beyond, held = position{tx: top}, true
	default:
		return nil
	}
	e, err := s.positionsError(ctx, s.pool, beyond, next, held, nil)
	if err != nil {
		return err
	}
	return e
}

// refuseReset returns the *xregion.PositionsError New found, unless the
// changelog has been advanced since (by this process or another).
func (s *Store) refuseReset(ctx context.Context) error {
	e := s.reset.Load()
	if e == nil {
		return nil
	}
	var next, top int64
	if err := s.pool.QueryRow(ctx, s.positionsSQL(true)).Scan(&next, &top); err != nil {
		return fmt.Errorf("read positions: %w", err)
	}
	if top < next {
		s.reset.CompareAndSwap(e, nil)
		return nil
	}
	return e
}

// AdvancePositions implements xregion.PositionAdvancer: the way forward
// from a *xregion.PositionsError. It raises the changelog's shift, the
// number added to a transaction id to make a position, so that positions
// issued from now on sort after past, after every position the changelog
// holds or has issued (retention's included), and after the spans Backlog
// has cut; it never lowers it. It locks
// the changelog while it does (writers wait; it is an operator's step,
// quick), changes the default of its tx column, and records the server's
// system identifier as the changelog's own. Stores open in other processes
// take writes again at their next Apply.
func (s *Store) AdvancePositions(ctx context.Context, past xregion.Position) (xregion.Position, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return xregion.Position{}, fmt.Errorf("advance positions: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('xregion schema ' || $1, 0))`, s.schema); err != nil {
		return xregion.Position{}, fmt.Errorf("advance positions: lock schema: %w", err)
	}
	// No change can join the changelog while its positions move: a
	// transaction about to write one waits, and takes the new default.
	if _, err := tx.Exec(ctx, `LOCK TABLE `+s.ident(changelogTable)+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		return xregion.Position{}, fmt.Errorf("advance positions: lock changelog: %w", err)
	}
	sysid, err := systemID(ctx, tx)
	if err != nil {
		return xregion.Position{}, fmt.Errorf("advance positions: %w", err)
	}
	var shift, next, top, oldest int64
	if err := tx.QueryRow(ctx, `SELECT p.shift, pg_snapshot_xmin(pg_current_snapshot())::text::bigint, q.*
		FROM `+s.ident(positionsTable)+` AS p, (`+s.positionsSQL(true)+`) AS q
		WHERE p.one`).Scan(&shift, &oldest, &next, &top); err != nil {
		return xregion.Position{}, fmt.Errorf("advance positions: read positions: %w", err)
	}
	// Every position issued from now on must sort after floor. The oldest
	// transaction still open has the lowest id that can still write a
	// change; with the new shift, even its position lies past floor.
	floor := max(fromPosition(past).tx, top, next-1)
	if raised := floor + 1 - oldest; raised > shift {
		shift = raised
		if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN tx SET DEFAULT (pg_current_xact_id()::text::bigint + %d)`,
			s.ident(changelogTable), shift)); err != nil {
			return xregion.Position{}, fmt.Errorf("advance positions: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE `+s.ident(positionsTable)+`
			SET shift = $1, high = greatest(high, $2), system_id = coalesce($3, system_id), advanced_at = clock_timestamp()
			WHERE one`,
		shift, floor, sysid); err != nil {
		return xregion.Position{}, fmt.Errorf("advance positions: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return xregion.Position{}, fmt.Errorf("advance positions: commit: %w", err)
	}
	s.reset.Store(nil)
	return position{tx: floor + 1}.position(), nil
}
