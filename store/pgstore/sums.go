package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xregion/xregion"
)

// Range sums: every data table has a sums table that holds, per bucket of
// KeyHash (its top sumBits bits), the count of the table's records and the
// XOR of their rhash, as deltas that triggers append in the writing
// transaction. A digest of ranges made of whole buckets is then a read of
// the sums, however many records the table holds (see the package doc).
const (
	sumBits    = 10
	sumShift   = 64 - sumBits
	sumBuckets = 1 << sumBits

	// compactAbove is how many delta rows a read of the sums may meet
	// before it folds them into one row per bucket.
	compactAbove = 8 * sumBuckets
)

// derivedName names an object that belongs to a data table (an index, its
// sums table): prefix and the table's name. Like the store's own tables it
// starts with '_', so no declared table can take it. A name PostgreSQL
// would truncate is cut here and a hash of the table name appended, so
// that long names that begin alike still get one each.
func derivedName(prefix, table string) string {
	name := prefix + table
	if len(name) <= xregion.MaxNameLen {
		return name
	}
	return fmt.Sprintf("%s_%08x", name[:xregion.MaxNameLen-9], xregion.KeyHash(table)>>32)
}

// sumsTable names a data table's sums table, and its trigger function.
func sumsTable(table string) string { return derivedName("_sums_", table) }

// sumTriggers are the triggers that keep a table's sums, by the event each
// follows and what it references. They fire ALWAYS, even where
// session_replication_role is replica (logical replication's apply, a
// restore that disables triggers), which would otherwise write the table
// behind the sums' back.
var sumTriggers = []struct{ name, event, referencing string }{
	{"_sums_insert", "INSERT", "REFERENCING NEW TABLE AS new_rows"},
	{"_sums_update", "UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"},
	{"_sums_delete", "DELETE", "REFERENCING OLD TABLE AS old_rows"},
	{"_sums_truncate", "TRUNCATE", ""},
}

// keepSums creates what keeps table's sums, in createTable's transaction:
// the sums table, the trigger function (replaced every time, so that a
// store always runs its own definition), and the triggers. When the
// triggers are missing, or rebuild says the hash columns were just
// computed again, it sums the table as it is, holding it locked against
// writes (CREATE TRIGGER takes that lock) so that no write falls between
// the sum and the first trigger.
func (s *Store) keepSums(ctx context.Context, tx pgx.Tx, table string, rebuild bool) error {
	sums := s.ident(sumsTable(table))
	// The buckets are khash >> sumShift: khash is the KeyHash with its top
	// bit flipped, so the arithmetic shift gives the hash's top bits less
	// sumBuckets/2, and bucket order is hash order.
	fn := `CREATE OR REPLACE FUNCTION ` + sums + `() RETURNS trigger LANGUAGE plpgsql AS $sums$
	BEGIN
		IF TG_OP = 'INSERT' THEN
			INSERT INTO ` + sums + ` (bucket, n, x)
			SELECT khash >> ` + fmt.Sprint(sumShift) + `, count(*), bit_xor(rhash) FROM new_rows GROUP BY 1;
		ELSIF TG_OP = 'UPDATE' THEN
			INSERT INTO ` + sums + ` (bucket, n, x)
			SELECT b, sum(n), bit_xor(x) FROM (
				SELECT khash >> ` + fmt.Sprint(sumShift) + ` AS b, -1 AS n, rhash AS x FROM old_rows
				UNION ALL
				SELECT khash >> ` + fmt.Sprint(sumShift) + `, 1, rhash FROM new_rows) AS d
			GROUP BY b HAVING sum(n) <> 0 OR bit_xor(x) <> 0;
		ELSIF TG_OP = 'DELETE' THEN
			INSERT INTO ` + sums + ` (bucket, n, x)
			SELECT khash >> ` + fmt.Sprint(sumShift) + `, -count(*), bit_xor(rhash) FROM old_rows GROUP BY 1;
		ELSE
			DELETE FROM ` + sums + `;
		END IF;
		RETURN NULL;
	END
	$sums$`
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + sums + ` (bucket smallint NOT NULL, n bigint NOT NULL, x bigint NOT NULL)`,
		fn,
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("keep sums of %s: %w", table, err)
		}
	}
	var have int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_trigger
		WHERE tgrelid = $1::text::regclass AND tgname LIKE '\_sums\_%' AND tgenabled = 'A'`, s.ident(table)).Scan(&have); err != nil {
		return fmt.Errorf("inspect triggers of %s: %w", table, err)
	}
	if have == len(sumTriggers) && !rebuild {
		return nil
	}
	for _, t := range sumTriggers {
		name := pgx.Identifier{t.name}.Sanitize()
		for _, stmt := range []string{
			`DROP TRIGGER IF EXISTS ` + name + ` ON ` + s.ident(table),
			`CREATE TRIGGER ` + name + ` AFTER ` + t.event + ` ON ` + s.ident(table) + ` ` + t.referencing +
				` FOR EACH STATEMENT EXECUTE FUNCTION ` + sums + `()`,
			`ALTER TABLE ` + s.ident(table) + ` ENABLE ALWAYS TRIGGER ` + name,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("keep sums of %s: %w", table, err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+sums); err != nil {
		return fmt.Errorf("sum %s: %w", table, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+sums+` (bucket, n, x)
		SELECT khash >> `+fmt.Sprint(sumShift)+`, count(*), bit_xor(rhash) FROM `+s.ident(table)+` GROUP BY 1`); err != nil {
		return fmt.Errorf("sum %s: %w", table, err)
	}
	return nil
}

// bucketRanges reports whether every range is made of whole buckets, so
// that the sums answer Digests.
func bucketRanges(ranges []xregion.KeyRange) bool {
	const low = 1<<sumShift - 1
	for _, r := range ranges {
		if r.Lo&low != 0 || r.Hi&low != low {
			return false
		}
	}
	return true
}

// digestsFromSums fills out, the digests of ranges made of whole buckets,
// from the sums, and folds the sums' deltas into one row per bucket once they
// are many. out's digests must be zero.
func (s *Store) digestsFromSums(ctx context.Context, table string, ranges []xregion.KeyRange, out []xregion.RangeDigest) error {
	var (
		bucket      int16
		count, rows int64
		hash        int64
		deltas      int64
	)
	// JIT is off as for the index (digestSettings): the sums have no index,
	// so the scan that forEachRow's setting disables is the only plan, and
	// its cost, raised by that setting, would have it compiled at length.
	err := s.forEachRowSet(ctx, digestSettings, `SELECT bucket, sum(n)::int8, bit_xor(x), count(*) FROM `+s.ident(sumsTable(table))+` GROUP BY bucket`,
		nil, []any{&bucket, &count, &hash, &rows}, func() error {
			deltas += rows
			if count == 0 && hash == 0 {
				return nil
			}
			lo := uint64(int64(bucket)+sumBuckets/2) << sumShift
			if i, ok := xregion.FindRange(ranges, lo); ok {
				out[i].Count += count
				out[i].Hash ^= uint64(hash)
			}
			return nil
		})
	if err != nil || deltas <= compactAbove {
		return err
	}
	return s.compactSums(ctx, table)
}

// compactSums folds table's sums into one row per bucket, leaving out
// buckets that hold nothing. Deltas that transactions still open append
// meanwhile are not seen and stay. A lock keeps two folds apart: one that
// ran after another had deleted its rows would sum nothing in their place.
// A database that takes no writes (a standby) is left as it is.
func (s *Store) compactSums(ctx context.Context, table string) error {
	sums := s.ident(sumsTable(table))
	q := &pgx.Batch{}
	q.Queue("BEGIN")
	q.Queue(`SELECT pg_advisory_xact_lock(hashtextextended('xregion sums ' || $1, 0))`, sums)
	q.Queue(`WITH d AS (DELETE FROM ` + sums + ` RETURNING bucket, n, x)
		INSERT INTO ` + sums + ` (bucket, n, x)
		SELECT bucket, sum(n), bit_xor(x) FROM d GROUP BY bucket HAVING sum(n) <> 0 OR bit_xor(x) <> 0`)
	q.Queue("COMMIT")
	err := s.pool.SendBatch(ctx, q).Close()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "25006" { // read_only_sql_transaction
		return nil
	}
	if err != nil {
		return fmt.Errorf("compact sums of %s: %w", table, err)
	}
	return nil
}
