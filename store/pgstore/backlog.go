package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/xregion/xregion"
)

// Backlog counts the changes of one origin after a position without
// reading each of them every time, through spans: rows of _changelog_spans
// that each hold the count, bytes, oldest time and last position of one
// origin's changes in a range [lo, hi) of transaction ids, every one of
// which is older than the oldest transaction that was open when the span
// was cut. No change can join such a range later (a transaction still to
// write takes a larger id), so a span stays true for as long as the
// changes it counts are kept.
//
// A call adds the spans wholly after its position to what it counts
// directly in the gaps between them: the rest of the span its position
// falls in, and the changes newer than the last span. When it counted
// many (spanCutAt) directly, it cuts spans over what it counted, so the
// calls after it do not count those again: they read about spanRows
// changes at their start, fewer than spanCutAt (and those of transactions
// still open) at their end, and one row per span in between. A lag
// tracker whose peer has been dark for days pays once for the days, and
// then about what it pays for a peer a minute behind.
//
// Spans are cut by one process at a time (an advisory lock; a call that
// does not get it leaves the cutting to the holder), only in gaps, so they
// never overlap. Changes in a transaction id range are cut whole, so a
// span holds at least spanRows changes unless it closes a gap.
//
// HAZARD: a span counts changes that existed when it was cut. Code that
// deletes changelog rows (a retention) must delete the spans that reach
// into what it deletes, or Backlog from a position before the deletion
// keeps counting them: more than the truth, never less.
const (
	// spanRows is how many changes a span holds at least, except one that
	// closes a gap.
	spanRows = 1024
	// spanCutAt is how many changes a call counts directly before it cuts
	// spans over them: below it, the spans would be passed by the peer's
	// watermark before they saved as much as cutting them costs.
	spanCutAt = 4 * spanRows
)

// Backlog implements xregion.Store. It counts every committed change after
// the position, ignoring the horizon Changes keeps, and times them on the
// database server's clock.
func (s *Store) Backlog(ctx context.Context, after xregion.Position, origin xregion.Region) (xregion.Backlog, error) {
	if err := origin.Validate(); err != nil {
		return xregion.Backlog{}, fmt.Errorf("read backlog: %w", err)
	}
	p := fromPosition(after)
	var (
		b      xregion.Backlog
		head   []int64
		old    *time.Time
		direct int64
	)
	// One statement, so one snapshot: a span cut while it runs is either
	// seen, with all its changes, or not, and its changes counted directly.
	// The gaps are the ranges after the position that no span covers: from
	// the position to the first span, between spans, after the last, less
	// the position's own transaction, whose changes after it are read apart
	// so that those before it (thousands, in a peer's batch) are not. Each
	// is a range of the origin index, and so a subset of the same range of
	// the primary key, which no plan can take for cheaper. The head
	// comes from the same rows, not from a search backwards for the
	// origin's last change, which a plan may make through the primary key,
	// past every change of other origins since.
	err := s.forEachRowAfter(ctx, after, false, nil, `WITH sp AS (
			SELECT lo, hi, changes, bytes, oldest, head_tx, head_idx FROM `+s.ident(spanTable)+` WHERE origin = $3 AND lo > $1
		), gap AS (
			SELECT coalesce(lag(hi) OVER (ORDER BY lo), 0) AS lo, lo AS hi FROM sp
			UNION ALL
			SELECT coalesce(max(hi), 0), 9223372036854775807 FROM sp
		), direct AS (
			SELECT count(*) AS changes, coalesce(sum(octet_length(c.key) + coalesce(octet_length(c.value), 0)), 0) AS bytes,
				min(c.at) AS oldest, max(ARRAY[c.tx, c.idx]) AS head
			FROM (
				SELECT c.tx, c.idx, c.key, c.value, c.at FROM gap CROSS JOIN LATERAL (
					SELECT tx, idx, key, value, at FROM `+s.ident(changelogTable)+`
					WHERE origin = $3 AND tx >= greatest(gap.lo, $1 + 1) AND tx < gap.hi) AS c
				WHERE gap.lo < gap.hi
				UNION ALL
				SELECT tx, idx, key, value, at FROM `+s.ident(changelogTable)+` WHERE origin = $3 AND tx = $1 AND idx > $2
			) AS c
		), spans AS (
			SELECT coalesce(sum(changes), 0)::bigint AS changes, coalesce(sum(bytes), 0)::bigint AS bytes, min(oldest) AS oldest,
				max(ARRAY[head_tx, head_idx]) AS head
			FROM sp
		)
		SELECT d.changes, d.changes + s.changes, d.bytes + s.bytes, least(d.oldest, s.oldest), clock_timestamp(),
			coalesce(greatest(d.head, s.head), ARRAY[0, 0]::bigint[])
		FROM direct AS d CROSS JOIN spans AS s`,
		[]any{p.tx, p.idx, string(origin)},
		[]any{&direct, &b.Changes, &b.Bytes, &old, &b.Now, &head}, func() error { return nil })
	if err != nil {
		return xregion.Backlog{}, fmt.Errorf("read backlog: %w", err)
	}
	if old != nil {
		b.Oldest = *old
	}
	if len(head) != 2 {
		return xregion.Backlog{}, fmt.Errorf("read backlog: head %v is not a position", head)
	}
	b.Head = position{tx: head[0], idx: int32(head[1])}.position()
	if direct >= int64(s.spanCutAt) {
		// The answer stands without the spans: they only spare later calls
		// the count, and the next such call cuts them if this one cannot.
		_ = s.cutSpans(ctx, p.tx, origin)
	}
	return b, nil
}

// cutSpans covers with spans the gaps after transaction after in origin's
// changelog, up to the oldest transaction still open: groups of whole
// transactions of at least s.spanRows changes; the changes of the last gap
// that do not fill a group are left for a later cut. It does nothing if
// another process is cutting spans of the same origin.
func (s *Store) cutSpans(ctx context.Context, after int64, origin xregion.Region) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("cut backlog spans: %w", err)
	}
	defer tx.Rollback(ctx)
	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended('xregion spans ' || $1 || ' ' || $2, 0))`,
		s.schema, string(origin)).Scan(&locked); err != nil || !locked {
		return err
	}
	// This statement's snapshot is taken after the lock was granted, so it
	// sees every span its holder before committed. A gap is closed when a
	// span ends it: its changes are all older than that span's cut, and
	// those of the last group fill it to its end. The last gap ends at the
	// oldest transaction still open.
	if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
		return fmt.Errorf("cut backlog spans: %w", err)
	}
	_, err = tx.Exec(ctx, `WITH prev AS (
			SELECT coalesce((SELECT hi FROM `+s.ident(spanTable)+` WHERE origin = $1 AND lo <= $2 ORDER BY lo DESC LIMIT 1), 0) AS hi
		), sp AS (
			SELECT lo, hi FROM `+s.ident(spanTable)+` WHERE origin = $1 AND lo > $2
		), gap AS (
			SELECT greatest(coalesce(lag(hi) OVER (ORDER BY lo), (SELECT hi FROM prev)), $2 + 1) AS lo, lo AS hi, true AS closed FROM sp
			UNION ALL
			SELECT greatest(coalesce((SELECT max(hi) FROM sp), (SELECT hi FROM prev)), $2 + 1),
				`+s.horizon()+`, false
		), t AS (
			SELECT gap.lo AS glo, gap.hi AS ghi, gap.closed, c.tx, count(*) AS n,
				sum(octet_length(c.key) + coalesce(octet_length(c.value), 0)) AS b, min(c.at) AS m, max(c.idx) AS last_idx
			FROM gap CROSS JOIN LATERAL (
				SELECT tx, idx, key, value, at FROM `+s.ident(changelogTable)+` AS c
				WHERE c.origin = $1 AND c.tx >= gap.lo AND c.tx < gap.hi) AS c
			WHERE gap.lo < gap.hi
			GROUP BY gap.lo, gap.hi, gap.closed, c.tx
		), g AS (
			SELECT *, ((sum(n) OVER (PARTITION BY glo ORDER BY tx))::bigint - n) / $3::bigint AS grp FROM t
		), grp AS (
			SELECT glo, ghi, closed, min(tx) AS first, max(tx) AS last, sum(n) AS n, sum(b) AS b, min(m) AS m,
				max(ARRAY[tx, last_idx]) AS head, grp
			FROM g GROUP BY glo, ghi, closed, grp
		), cut AS (
			SELECT *, row_number() OVER w AS i, lead(first) OVER w AS next
			FROM grp WINDOW w AS (PARTITION BY glo ORDER BY grp)
		)
		INSERT INTO `+s.ident(spanTable)+` (origin, lo, hi, changes, bytes, oldest, head_tx, head_idx)
		SELECT $1, CASE WHEN i = 1 THEN glo ELSE first END,
			CASE WHEN next IS NOT NULL THEN next WHEN closed THEN ghi ELSE last + 1 END, n, b, m, head[1], head[2]
		FROM cut WHERE next IS NOT NULL OR closed OR n >= $3::bigint`,
		string(origin), after, s.spanRows)
	if err != nil {
		return fmt.Errorf("cut backlog spans: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("cut backlog spans: %w", err)
	}
	return nil
}
