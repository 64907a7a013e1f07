package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/xregion/xregion"
)

// The store's own tables start with '_', which no xregion table name can, so
// they never collide with declared tables in the same schema.
const (
	metaTable       = "_meta"
	tablesTable     = "_tables"
	changelogTable  = "_changelog"
	watermarkTable  = "_watermarks"
	lostUpdateTable = "_lost_updates"
	inboxTable      = "_inbox"
	withdrawnTable  = "_withdrawn"
	spanTable       = "_changelog_spans"

	// originIndex serves every read of the changelog that names an origin
	// (Changes with ChangeQuery.Origin, Backlog): a page of one origin's
	// changes after a position is a range of it, however many changes of
	// other origins lie between them.
	originIndex = "_changelog_origin"
)

// recordColumns are the columns of a data table after key, in the order
// every query reads and writes them.
const recordColumns = `value, wall, logical, origin, base_wall, base_logical, base_origin, epoch, tombstone`

func (s *Store) ident(name string) string { return pgx.Identifier{s.schema, name}.Sanitize() }

// setup creates the schema and the store's own tables if they are missing,
// and claims the schema for s.region. It holds an advisory lock so that
// processes starting together do not race on CREATE ... IF NOT EXISTS.
func (s *Store) setup(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('xregion schema ' || $1, 0))`, s.schema); err != nil {
		return fmt.Errorf("lock schema: %w", err)
	}
	stmts := []string{
		`CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{s.schema}.Sanitize(),
		`CREATE TABLE IF NOT EXISTS ` + s.ident(metaTable) + ` (
			one boolean PRIMARY KEY DEFAULT true CHECK (one),
			region text NOT NULL,
			created_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE TABLE IF NOT EXISTS ` + s.ident(tablesTable) + ` (
			name text PRIMARY KEY,
			created_at timestamptz NOT NULL DEFAULT now())`,
		// tx is the writing transaction's 64-bit id: changes are ordered by
		// it, and read only below the oldest transaction still open, which
		// is what defeats the outbox trap (see Changes).
		`CREATE TABLE IF NOT EXISTS ` + s.ident(changelogTable) + ` (
			tx bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
			idx integer NOT NULL,
			tbl text NOT NULL,
			key text COLLATE "C" NOT NULL,
			` + recordColumnDefs + `,
			at timestamptz NOT NULL DEFAULT clock_timestamp(),
			PRIMARY KEY (tx, idx))`,
		`CREATE TABLE IF NOT EXISTS ` + s.ident(watermarkTable) + ` (
			peer text PRIMARY KEY,
			tx bigint NOT NULL DEFAULT 0,
			idx integer NOT NULL DEFAULT 0,
			updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
		`CREATE TABLE IF NOT EXISTS ` + s.ident(lostUpdateTable) + ` (
			id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			tbl text NOT NULL,
			key text COLLATE "C" NOT NULL,
			` + recordColumnDefs + `,
			reason text NOT NULL,
			winner_wall bigint NOT NULL,
			winner_logical integer NOT NULL,
			winner_origin text NOT NULL,
			region text NOT NULL,
			at timestamptz NOT NULL DEFAULT clock_timestamp(),
			UNIQUE (tbl, key, wall, logical, origin))`,
		// Spans of one origin's changelog that Backlog has counted once and
		// need not count again (see backlog.go).
		`CREATE TABLE IF NOT EXISTS ` + s.ident(spanTable) + ` (
			origin text NOT NULL,
			lo bigint NOT NULL,
			hi bigint NOT NULL CHECK (hi > lo),
			changes bigint NOT NULL,
			bytes bigint NOT NULL,
			oldest timestamptz NOT NULL,
			head_tx bigint NOT NULL,
			head_idx integer NOT NULL,
			PRIMARY KEY (origin, lo) INCLUDE (hi, changes, bytes, oldest, head_tx, head_idx))`,
		// Writes peers staged here (xregion.Stager): durable, unresolved.
		`CREATE TABLE IF NOT EXISTS ` + s.ident(inboxTable) + ` (
			id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			from_region text NOT NULL,
			tbl text NOT NULL,
			key text COLLATE "C" NOT NULL,
			` + recordColumnDefs + `,
			staged_at timestamptz NOT NULL DEFAULT clock_timestamp())`,
		// Apply looks for a peer's staged writes, and removes those it resolved.
		`CREATE INDEX IF NOT EXISTS _inbox_from_key ON ` + s.ident(inboxTable) + ` (from_region, key)`,
		// Writes their region withdrew from the stage (Stager.Withdraw): a
		// copy staged later must stay off it.
		`CREATE TABLE IF NOT EXISTS ` + s.ident(withdrawnTable) + ` (
			from_region text NOT NULL,
			tbl text NOT NULL,
			key text COLLATE "C" NOT NULL,
			wall bigint NOT NULL,
			logical integer NOT NULL,
			origin text NOT NULL,
			at timestamptz NOT NULL DEFAULT clock_timestamp(),
			PRIMARY KEY (from_region, tbl, key, wall, logical, origin))`,
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create schema %s: %w", s.schema, err)
		}
	}
	if err := s.addOriginPositions(ctx, tx); err != nil {
		return fmt.Errorf("create schema %s: %w", s.schema, err)
	}
	if err := s.indexOrigins(ctx, tx); err != nil {
		return fmt.Errorf("create schema %s: %w", s.schema, err)
	}
	if err := s.setupRetention(ctx, tx); err != nil {
		return fmt.Errorf("create schema %s: %w", s.schema, err)
	}
	var owner string
	err = tx.QueryRow(ctx, `SELECT region FROM `+s.ident(metaTable)).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.ident(metaTable)+` (region) VALUES ($1)`, string(s.region)); err != nil {
			return fmt.Errorf("claim schema: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read schema owner: %w", err)
	case owner != string(s.region):
		return fmt.Errorf("%w: schema %s holds region %q, not %q", xregion.ErrRegionMismatch, s.schema, owner, s.region)
	}
	if err := s.setupPositions(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit schema: %w", err)
	}
	return nil
}

// addOriginPositions adds to a changelog made before them the columns of
// where a change applied from a peer's changelog stands in its origin's
// (xregion.Change.OriginPos; zero when unknown, and a local change's is
// its own tx and idx, read as such). ALTER TABLE locks the table even
// when the columns exist, so it runs only when the catalog says it must.
func (s *Store) addOriginPositions(ctx context.Context, tx pgx.Tx) error {
	var have bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute
		WHERE attrelid = to_regclass($1) AND attname = 'origin_tx' AND NOT attisdropped)`,
		s.ident(changelogTable)).Scan(&have); err != nil {
		return fmt.Errorf("inspect changelog columns: %w", err)
	}
	if have {
		return nil
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE `+s.ident(changelogTable)+` ADD COLUMN IF NOT EXISTS origin_tx bigint NOT NULL DEFAULT 0,
		ADD COLUMN IF NOT EXISTS origin_idx integer NOT NULL DEFAULT 0`); err != nil {
		return fmt.Errorf("add origin positions to the changelog: %w", err)
	}
	return nil
}

// indexOrigins creates the changelog's origin index if it is missing, or
// builds it again if it is invalid (a CREATE INDEX CONCURRENTLY that failed
// leaves one, which no query uses). CREATE INDEX locks the table even when
// the index exists, so it runs only when the catalog says it must. Why not
// CONCURRENTLY, and how to build it ahead: see the package doc.
func (s *Store) indexOrigins(ctx context.Context, tx pgx.Tx) error {
	var valid *bool
	err := tx.QueryRow(ctx, `SELECT (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass($1))`,
		s.ident(originIndex)).Scan(&valid)
	switch {
	case err != nil:
		return fmt.Errorf("inspect index %s: %w", originIndex, err)
	case valid != nil && *valid:
		return nil
	case valid != nil:
		if _, err := tx.Exec(ctx, `DROP INDEX `+s.ident(originIndex)); err != nil {
			return fmt.Errorf("drop invalid index %s: %w", originIndex, err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+pgx.Identifier{originIndex}.Sanitize()+
		` ON `+s.ident(changelogTable)+` (origin, tx, idx)`); err != nil {
		return fmt.Errorf("index changelog origins: %w", err)
	}
	return nil
}

const recordColumnDefs = `value bytea,
			wall bigint NOT NULL,
			logical integer NOT NULL,
			origin text NOT NULL,
			base_wall bigint NOT NULL,
			base_logical integer NOT NULL,
			base_origin text NOT NULL,
			epoch bigint NOT NULL,
			tombstone boolean NOT NULL`

// The hash columns of a data table, which xregion.Digester reads: khash is
// xregion.KeyHash of the key with its top bit flipped, so that bigint order
// is the hash's unsigned order (see hashArg); rhash is xregion.RowHash of the
// row. PostgreSQL computes both as it writes a row, over the very bytes Go
// hashes in a UTF8 database: octet_length counts bytes as len does, the
// key's collation "C" is the concatenation's (the others are the default),
// so hashtextextended hashes its bytes as they are, and encode gives a NULL
// value and an empty one the same empty field.
const (
	khashDef = `khash bigint GENERATED ALWAYS AS (hashtextextended(key, 0) # (-9223372036854775808)) STORED`
	rhashDef = `rhash bigint GENERATED ALWAYS AS (hashtextextended(
			octet_length(key)::text || ':' || key || ':' || wall::text || ':' || logical::text || ':' ||
			origin || ':' || epoch::text || ':' || tombstone::text || ':' ||
			encode(coalesce(value, ''::bytea), 'hex'), 0)) STORED`
)

// createTable creates a declared table's storage, and adds the hash columns
// and their index to a table created before they existed, or computes them
// again for one created while they were md5.
func (s *Store) createTable(ctx context.Context, name string) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('xregion schema ' || $1, 0))`, s.schema); err != nil {
		return fmt.Errorf("lock schema: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+s.ident(name)+` (
			key text COLLATE "C" PRIMARY KEY,
			`+recordColumnDefs+`,
			`+khashDef+`,
			`+rhashDef+`) WITH (fillfactor = 90)`); err != nil {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	// ALTER TABLE and CREATE INDEX lock the table even when they have
	// nothing to do, so they run only when the catalog says they must:
	// when a hash column is missing, or computed with md5 as before
	// xregion.KeyHash and RowHash were hashtextextended. Such a column is
	// dropped, with the index, and added again.
	var columns, stale int
	var indexed bool
	if err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE pg_get_expr(d.adbin, d.adrelid) LIKE '%md5(%'),
			to_regclass($2) IS NOT NULL
			FROM pg_attribute AS a LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE a.attrelid = $1::text::regclass AND a.attname IN ('khash', 'rhash') AND NOT a.attisdropped`,
		s.ident(name), s.ident(hashIndex(name))).Scan(&columns, &stale, &indexed); err != nil {
		return fmt.Errorf("inspect table %s: %w", name, err)
	}
	rehashed := columns < 2 || stale > 0
	if rehashed {
		drop := ""
		if stale > 0 {
			drop = `DROP COLUMN IF EXISTS khash, DROP COLUMN IF EXISTS rhash,`
			indexed = false
		}
		if _, err := tx.Exec(ctx, `ALTER TABLE `+s.ident(name)+` `+drop+`
				ADD COLUMN IF NOT EXISTS `+khashDef+`,
				ADD COLUMN IF NOT EXISTS `+rhashDef); err != nil {
			return fmt.Errorf("add hash columns to %s: %w", name, err)
		}
	}
	if !indexed {
		if _, err := tx.Exec(ctx, `CREATE INDEX IF NOT EXISTS `+pgx.Identifier{hashIndex(name)}.Sanitize()+
			` ON `+s.ident(name)+` (khash) INCLUDE (rhash)`); err != nil {
			return fmt.Errorf("index hashes of %s: %w", name, err)
		}
	}
	if err := s.indexTombstones(ctx, tx, name); err != nil {
		return err
	}
	if err := s.keepSums(ctx, tx, name, rehashed); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+s.ident(tablesTable)+` (name) VALUES ($1) ON CONFLICT DO NOTHING`, name); err != nil {
		return fmt.Errorf("register table %s: %w", name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit table %s: %w", name, err)
	}
	return nil
}

// hashIndex names the index of table's hash columns.
func hashIndex(table string) string { return derivedName("_khash_", table) }
