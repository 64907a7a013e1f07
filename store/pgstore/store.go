package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
)

// DefaultSchema is the PostgreSQL schema a Store keeps its tables in unless
// WithSchema says otherwise.
const DefaultSchema = "xregion"

// Option configures a Store.
type Option interface{ apply(*Store) }

type option func(*Store)

func (f option) apply(s *Store) { f(s) }

// WithSchema sets the PostgreSQL schema that holds the store's tables.
// Default DefaultSchema. Names follow xregion.ValidateTableName and may not
// start with pg_, which PostgreSQL keeps for itself.
func WithSchema(name string) Option { return option(func(s *Store) { s.schema = name }) }

// copySaving is about how much server time COPY saves per new row against
// INSERT … SELECT FROM unnest (measured on PostgreSQL 15: 4 to 6 µs a row
// for batches of 1,000 to 5,000), which Apply weighs against the round trip
// a COPY adds.
const copySaving = 4 * time.Microsecond

// Store is an xregion.Store on PostgreSQL. It is safe for concurrent use.
// It does not own the pool: close the pool after the last call.
type Store struct {
	pool   *pgxpool.Pool
	region xregion.Region
	schema string
	// copySaving is the per-row saving Apply expects from COPY; tests
	// raise it to take the COPY path for every batch.
	copySaving time.Duration
	// valuesMax is the most rows a statement sends as VALUES (see rows);
	// tests lower it to send every batch through unnest.
	valuesMax int
	// spanRows and spanCutAt shape Backlog's spans (see backlog.go); tests
	// lower them to cut many small spans.
	spanRows, spanCutAt int

	// reset is the *xregion.PositionsError New found the changelog in, or
	// nil: Apply refuses to write until AdvancePositions (see refuseReset).
	reset atomic.Pointer[xregion.PositionsError]

	// beforeCommit, when set by a test, runs inside Apply after the writes
	// are sent and before COMMIT, so a test can hold a transaction open.
	beforeCommit func()

	mu struct {
		sync.RWMutex
		resolvers map[string]xregion.Resolver
	}
}

var _ xregion.Store = (*Store)(nil)

// New opens the store of region on pool, creating its schema and tables if
// they are missing. It refuses, with xregion.ErrRegionMismatch, a schema that
// already holds another region's data. A store whose changelog holds
// positions beyond those the server would issue it (restored onto another
// server) opens, for reading; Apply refuses with a *xregion.PositionsError
// until AdvancePositions.
func New(ctx context.Context, pool *pgxpool.Pool, region xregion.Region, opts ...Option) (*Store, error) {
	s := &Store{pool: pool, region: region, schema: DefaultSchema, copySaving: copySaving, valuesMax: valuesMax,
		spanRows: spanRows, spanCutAt: spanCutAt}
	for _, o := range opts {
		o.apply(s)
	}
	if pool == nil {
		return nil, &xregion.InvalidError{What: "pgstore pool", Reason: "nil; pass a *pgxpool.Pool"}
	}
	if err := region.Validate(); err != nil {
		return nil, err
	}
	if err := xregion.ValidateTableName(s.schema); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	if strings.HasPrefix(s.schema, "pg_") {
		return nil, &xregion.InvalidError{What: "pgstore schema", Reason: fmt.Sprintf("%q: PostgreSQL reserves names starting with pg_ for system schemas", s.schema)}
	}
	s.mu.resolvers = map[string]xregion.Resolver{}
	if err := s.setup(ctx); err != nil {
		return nil, fmt.Errorf("open pgstore: %w", err)
	}
	return s, nil
}

// Region returns the region whose records the store holds.
func (s *Store) Region() xregion.Region { return s.region }

// Schema returns the PostgreSQL schema the store uses.
func (s *Store) Schema() string { return s.schema }

// DefineTable implements xregion.Store. The table is a PostgreSQL table of
// the same name in the store's schema.
func (s *Store) DefineTable(ctx context.Context, name string, r xregion.Resolver) error {
	if err := xregion.ValidateTable(name, r); err != nil {
		return fmt.Errorf("define table: %w", err)
	}
	if err := s.createTable(ctx, name); err != nil {
		return fmt.Errorf("define table: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.resolvers[name] = r
	return nil
}

func (s *Store) resolver(table string) (xregion.Resolver, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r, ok := s.mu.resolvers[table]
	if !ok {
		return nil, fmt.Errorf("%w %q: declare it with DefineTable", xregion.ErrUnknownTable, table)
	}
	return r, nil
}

// Get implements xregion.Store.
func (s *Store) Get(ctx context.Context, table, key string) (xregion.Record, error) {
	if _, err := s.resolver(table); err != nil {
		return xregion.Record{}, err
	}
	if err := xregion.ValidateKey(key); err != nil {
		return xregion.Record{}, err
	}
	var (
		r     xregion.Record
		found bool
	)
	err := s.forEachRow(ctx, `SELECT key, `+recordColumns+` FROM `+s.ident(table)+` WHERE key = $1`, []any{key},
		recordDest(&r), func() error { found = true; return nil })
	switch {
	case err != nil:
		return xregion.Record{}, fmt.Errorf("get %s %q: %w", table, key, err)
	case !found:
		return xregion.Record{}, fmt.Errorf("%w: %s %q", xregion.ErrNotFound, table, key)
	}
	return r, nil
}

// Watermark implements xregion.Store.
func (s *Store) Watermark(ctx context.Context, peer xregion.Region) (xregion.Position, error) {
	if err := peer.Validate(); err != nil {
		return xregion.Position{}, err
	}
	var p position
	err := s.pool.QueryRow(ctx, `SELECT tx, idx FROM `+s.ident(watermarkTable)+` WHERE peer = $1`, string(peer)).Scan(&p.tx, &p.idx)
	if errors.Is(err, pgx.ErrNoRows) {
		return xregion.Position{}, nil
	}
	if err != nil {
		return xregion.Position{}, fmt.Errorf("read watermark of %s: %w", peer, err)
	}
	return p.position(), nil
}

// forEachRow runs a query as pgx.ForEachRow does, calling fn after each row
// is scanned into dest, in a read-only transaction of its own with
// sequential scans turned off, all in one round trip. PostgreSQL switches a
// prepared statement (pgx prepares every query) to a generic plan after
// five runs, and a generic plan made while a table was nearly empty (a new
// region, a peer catching up) scans the whole table, and keeps doing so as
// the table grows. Every query of the store has an index to use; this makes
// PostgreSQL use it. Apply does the same in its own transaction.
func (s *Store) forEachRow(ctx context.Context, sql string, args []any, dest []any, fn func() error) error {
	return s.forEachRowSet(ctx, nil, sql, args, dest, fn)
}

// forEachRowSet is forEachRow with more SET LOCAL statements (settings, as
// "name = value") run before the query, and more statements (queued by
// then) after it, in its transaction.
func (s *Store) forEachRowSet(ctx context.Context, settings []string, sql string, args []any, dest []any, fn func() error,
	then ...func(*pgx.Batch)) error {
	q := &pgx.Batch{}
	q.Queue("BEGIN READ ONLY")
	q.Queue("SET LOCAL enable_seqscan = off")
	for _, set := range settings {
		q.Queue("SET LOCAL " + set)
	}
	q.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		_, err := pgx.ForEachRow(rows, dest, fn)
		return err
	})
	for _, f := range then {
		f(q)
	}
	q.Queue("COMMIT")
	return s.pool.SendBatch(ctx, q).Close()
}
