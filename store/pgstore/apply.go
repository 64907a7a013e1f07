package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
)

// maxAttempts bounds how often Apply retries a transaction that lost a race
// (a serialization failure or deadlock) before it reports the error.
const maxAttempts = 8

// Apply implements xregion.Store in two round trips: the first begins the
// transaction and locks the watermark row and every key of the batch, the
// second writes the resolved records, the changelog, the ledger and the
// watermark, and commits.
func (s *Store) Apply(ctx context.Context, b xregion.Batch) (xregion.Result, error) {
	if err := b.Validate(); err != nil {
		return xregion.Result{}, err
	}
	if err := s.refuseReset(ctx); err != nil {
		return xregion.Result{}, fmt.Errorf("apply batch: %w", err)
	}
	resolvers := map[string]xregion.Resolver{}
	for _, w := range b.Writes {
		if _, ok := resolvers[w.Table]; ok {
			continue
		}
		r, err := s.resolver(w.Table)
		if err != nil {
			return xregion.Result{}, err
		}
		resolvers[w.Table] = r
	}
	for attempt := 1; ; attempt++ {
		res, err := s.applyOnce(ctx, b, resolvers)
		if err == nil || attempt == maxAttempts || !lostRace(err) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return xregion.Result{}, ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Millisecond):
		}
	}
}

// lostRace reports whether PostgreSQL aborted the transaction because a
// concurrent one got in its way, so that running it again is right: a
// deadlock, a serialization failure, or a unique violation, which Apply's
// statements only meet when another batch inserted a key it read as absent.
func lostRace(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "40001", "40P01", "23505":
		return true
	}
	return false
}

// keyState is what one key of the batch holds while the batch is resolved.
type keyState struct {
	rec     xregion.Record
	existed bool // the key had a row when the batch read it
	dirty   bool // the batch changed it
}

type tableWrite struct {
	table  string
	rec    xregion.Record
	origin xregion.Position // the change's OriginPos when it came with one
}

type lostWrite struct {
	table  string
	lost   xregion.Record
	reason xregion.LossReason
	winner xregion.Version
}

// lostID identifies a ledger entry, as its unique constraint does; lostAt
// is what the ledger gave it.
type (
	lostID struct {
		table, key string
		version    xregion.Version
	}
	lostAt struct {
		id int64
		at time.Time
	}
)

func (s *Store) applyOnce(ctx context.Context, b xregion.Batch, resolvers map[string]xregion.Resolver) (res xregion.Result, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("apply batch: %w", err)
	}
	defer conn.Release()
	defer func() {
		if err != nil {
			rollback(conn)
		}
	}()

	tables, keys := batchKeys(b)
	watermarked := !b.Through.IsZero()
	l, err := s.lock(ctx, conn, b.From, watermarked, tables, keys)
	if err != nil {
		return res, fmt.Errorf("apply batch: %w", err)
	}
	if watermarked {
		if !l.wm.Less(b.Through) {
			rollback(conn)
			return xregion.Result{Duplicate: true}, nil
		}
		if l.wm != b.After {
			return res, &xregion.WatermarkError{Peer: b.From, Have: l.wm, After: b.After, Through: b.Through}
		}
	}

	var changes []tableWrite
	var losses []lostWrite
	for _, w := range b.Writes {
		st := l.states[w.Table][w.Record.Key]
		r, err := resolvers[w.Table].Resolve(st.rec, w.Record)
		if err != nil {
			return res, fmt.Errorf("apply batch: resolve %s %q: %w", w.Table, w.Record.Key, err)
		}
		if err := r.Check(w.Table, w.Record); err != nil {
			return res, fmt.Errorf("apply batch: %w", err)
		}
		if r.Changed {
			st.rec, st.dirty = r.Record.Clone(), true
			tw := tableWrite{table: w.Table, rec: st.rec}
			if st.rec.Version == w.Record.Version {
				tw.origin = w.Pos // kept as it came, not merged into another version
			}
			changes = append(changes, tw)
			res.Applied++
		} else {
			res.Unchanged++
		}
		if r.Lost != nil {
			losses = append(losses, lostWrite{w.Table, r.Lost.Clone(), r.Reason, st.rec.Version})
		}
	}

	res.Lost, err = s.write(ctx, conn, b, tables, l, changes, losses)
	if err != nil {
		return xregion.Result{}, err
	}
	return res, nil
}

// batchKeys returns the batch's tables, sorted, and each table's keys,
// sorted and without repeats: the order rows are locked in, so concurrent
// batches cannot deadlock on each other.
func batchKeys(b xregion.Batch) ([]string, map[string][]string) {
	keys := map[string][]string{}
	for _, w := range b.Writes {
		keys[w.Table] = append(keys[w.Table], w.Record.Key)
	}
	tables := make([]string, 0, len(keys))
	for t, ks := range keys {
		slices.Sort(ks)
		keys[t] = slices.Compact(ks)
		tables = append(tables, t)
	}
	slices.Sort(tables)
	return tables, keys
}

// locked is what the first round trip found.
type locked struct {
	states    map[string]map[string]*keyState // per table, per key of the batch
	wm        xregion.Position                // the sending peer's watermark
	staged    bool                            // the sending peer has writes staged here
	roundTrip time.Duration                   // how long BEGIN's answer took
}

// lock runs the first round trip: BEGIN, then FOR UPDATE on the watermark
// row and on every existing key of the batch. Keys that do not exist yet
// cannot be locked; write detects a concurrent insert of them instead.
func (s *Store) lock(ctx context.Context, conn *pgxpool.Conn, from xregion.Region, watermarked bool, tables []string, keys map[string][]string) (locked, error) {
	q := &pgx.Batch{}
	q.Queue("BEGIN")
	// Every statement of Apply finds its rows through an index, whatever
	// plan is cached for it (see forEachRow): a lock of 5,000 keys once took
	// a second on a table of 12,000 rows.
	q.Queue("SET LOCAL enable_seqscan = off")
	if watermarked {
		q.Queue(`INSERT INTO `+s.ident(watermarkTable)+` (peer) VALUES ($1) ON CONFLICT DO NOTHING`, string(from))
		q.Queue(`SELECT tx, idx FROM `+s.ident(watermarkTable)+` WHERE peer = $1 FOR UPDATE`, string(from))
	}
	if from != "" {
		q.Queue(`SELECT EXISTS (SELECT FROM `+s.ident(inboxTable)+` WHERE from_region = $1)`, string(from))
	}
	for _, t := range tables {
		q.Queue(`SELECT key, `+recordColumns+` FROM `+s.ident(t)+` WHERE key = ANY($1) ORDER BY key FOR UPDATE`, keys[t])
	}
	var l locked
	sent := time.Now()
	br := conn.SendBatch(ctx, q)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return l, fmt.Errorf("begin: %w", err)
	}
	l.roundTrip = time.Since(sent)
	if _, err := br.Exec(); err != nil {
		return l, fmt.Errorf("plan: %w", err)
	}
	if watermarked {
		var wm position
		if _, err := br.Exec(); err != nil {
			return l, fmt.Errorf("create watermark: %w", err)
		}
		if err := br.QueryRow().Scan(&wm.tx, &wm.idx); err != nil {
			return l, fmt.Errorf("lock watermark: %w", err)
		}
		l.wm = wm.position()
	}
	if from != "" {
		if err := br.QueryRow().Scan(&l.staged); err != nil {
			return l, fmt.Errorf("look for staged writes: %w", err)
		}
	}
	l.states = make(map[string]map[string]*keyState, len(tables))
	for _, t := range tables {
		st := make(map[string]*keyState, len(keys[t]))
		for _, k := range keys[t] {
			st[k] = &keyState{}
		}
		rows, err := br.Query()
		if err != nil {
			return l, fmt.Errorf("lock %s: %w", t, err)
		}
		var r xregion.Record
		_, err = pgx.ForEachRow(rows, recordDest(&r), func() error {
			st[r.Key] = &keyState{rec: r, existed: true}
			r = xregion.Record{}
			return nil
		})
		if err != nil {
			return l, fmt.Errorf("lock %s: %w", t, err)
		}
		l.states[t] = st
	}
	return l, br.Close()
}

// write runs the second round trip: the resolved records, the changelog,
// the ledger, the stage and the watermark, then COMMIT, pipelined. It
// returns the ledger entries that were new, in the order of losses.
func (s *Store) write(ctx context.Context, conn *pgxpool.Conn, b xregion.Batch, tables []string,
	l locked, changes []tableWrite, losses []lostWrite) ([]xregion.LostUpdate, error) {
	// COPY pays where the server time it saves exceeds the round trip it
	// adds: for large batches on a near database, not across a long link.
	w := &pipeline{s: s, copyPays: func(rows int) bool { return time.Duration(rows)*s.copySaving > l.roundTrip }}
	for _, t := range tables {
		w.records(t, l.states[t])
	}
	w.changelog(changes)
	for _, c := range w.copies {
		if _, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(c.data), c.sql(s)); err != nil {
			return nil, fmt.Errorf("apply batch: copy into %s: %w", c.table, err)
		}
	}
	added := w.ledger(losses)
	if l.staged && len(b.Writes) > 0 {
		w.unstage(b)
	}
	if !b.Through.IsZero() {
		p := fromPosition(b.Through)
		w.q.Queue(`UPDATE `+s.ident(watermarkTable)+` SET tx = $2, idx = $3, updated_at = clock_timestamp() WHERE peer = $1`,
			string(b.From), p.tx, p.idx)
	}
	if s.beforeCommit == nil {
		w.q.Queue("COMMIT")
	}

	err := conn.SendBatch(ctx, &w.q).Close()
	if err == nil && s.beforeCommit != nil {
		s.beforeCommit()
		_, err = conn.Exec(ctx, "COMMIT")
	}
	if err != nil {
		return nil, fmt.Errorf("apply batch: %w", outcome(err))
	}
	var lost []xregion.LostUpdate
	for _, l := range losses {
		id := lostID{l.table, l.lost.Key, l.lost.Version}
		if at, ok := added[id]; ok {
			delete(added, id) // a loss repeated within the batch was added once
			lost = append(lost, xregion.LostUpdate{ID: at.id, Table: l.table, Lost: l.lost, Reason: l.reason,
				Winner: l.winner, Region: s.region, At: at.at})
		}
	}
	return lost, nil
}

// pipeline gathers the statements of write's round trip: those queued in q,
// and the COPYs sent ahead of them.
type pipeline struct {
	s        *Store
	q        pgx.Batch
	copies   []copyIn
	copyPays func(rows int) bool
}

// records queues the writes of table t's changed keys: an UPDATE of those
// that existed, an INSERT (or COPY) of the new ones.
func (w *pipeline) records(t string, states map[string]*keyState) {
	var updates, inserts recordArrays
	for _, k := range sortedKeys(states) {
		st := states[k]
		switch {
		case !st.dirty:
		case st.existed:
			updates.add(st.rec)
		default:
			inserts.add(st.rec)
		}
	}
	if updates.len() > 0 {
		src, args := w.s.rows(1, recordArrayTypes, updates.args())
		w.q.Queue(`UPDATE `+w.s.ident(t)+` AS cur SET value = u.value, wall = u.wall, logical = u.logical, origin = u.origin,
			base_wall = u.base_wall, base_logical = u.base_logical, base_origin = u.base_origin, epoch = u.epoch, tombstone = u.tombstone
			FROM `+src+` AS u(key, `+recordColumns+`)
			WHERE cur.key = u.key`, args...)
	}
	// New keys go in with a plain INSERT (or COPY): if a concurrent batch
	// created one of them after lock read it as absent, this fails with
	// unique_violation and Apply runs again from the top.
	switch {
	case w.copyPays(inserts.len()):
		w.copies = append(w.copies, copyIn{table: t, columns: dataColumns, data: inserts.copyData(0, nil)})
	case inserts.len() > 0:
		src, args := w.s.rows(1, recordArrayTypes, inserts.args())
		w.q.Queue(`INSERT INTO `+w.s.ident(t)+` (key, `+recordColumns+`) SELECT * FROM `+src+` AS u`, args...)
	}
}

// changelog queues the changes, in order, for the changelog.
func (w *pipeline) changelog(changes []tableWrite) {
	if len(changes) == 0 {
		return
	}
	var recs recordArrays
	idx := make([]int32, len(changes))
	tbl := make([]string, len(changes))
	otx := make([]int64, len(changes))
	oidx := make([]int32, len(changes))
	for i, c := range changes {
		o := fromPosition(c.origin)
		idx[i], tbl[i], otx[i], oidx[i] = int32(i), c.table, o.tx, o.idx
		recs.add(c.rec)
	}
	if w.copyPays(len(changes)) {
		w.copies = append(w.copies, copyIn{table: changelogTable, columns: changelogColumns,
			data: recs.copyData(4, func(c *copyTuples, i int) { c.int4(idx[i]); c.text(tbl[i]); c.int8(otx[i]); c.int4(oidx[i]) })})
		return
	}
	src, args := w.s.rows(1, append([]string{"int4[]", "text[]", "int8[]", "int4[]"}, recordArrayTypes...),
		append([]any{idx, tbl, otx, oidx}, recs.args()...))
	w.q.Queue(`INSERT INTO `+w.s.ident(changelogTable)+` (`+changelogColumns+`) SELECT * FROM `+src+` AS u`, args...)
}

// ledger queues the losses for the lost-update ledger; the map it returns
// holds, once the round trip is done, the entries the ledger added.
func (w *pipeline) ledger(losses []lostWrite) map[lostID]lostAt {
	added := map[lostID]lostAt{}
	if len(losses) == 0 {
		return added
	}
	var recs recordArrays
	tbl := make([]string, len(losses))
	var ww []int64
	var wl []int32
	var wo, why []string
	for i, l := range losses {
		tbl[i] = l.table
		recs.add(l.lost)
		why = append(why, l.reason.String())
		ww = append(ww, l.winner.Time.WallTime)
		wl = append(wl, l.winner.Time.Logical)
		wo = append(wo, string(l.winner.Region))
	}
	// Ledger ids are handed out in commit order, so a reader paging by id
	// never passes an entry that commits later: the lock is held from here
	// to COMMIT, and only transactions that lost an update take it.
	w.q.Queue(`SELECT pg_advisory_xact_lock(hashtextextended('xregion ledger ' || $1, 0))`, w.s.schema)
	src, args := w.s.rows(2, slices.Concat([]string{"text[]"}, recordArrayTypes, []string{"text[]", "int8[]", "int4[]", "text[]"}),
		slices.Concat([]any{tbl}, recs.args(), []any{why, ww, wl, wo}))
	w.q.Queue(`INSERT INTO `+w.s.ident(lostUpdateTable)+` (tbl, key, `+recordColumns+`, reason, winner_wall, winner_logical, winner_origin, region)
			SELECT u.*, $1 FROM `+src+` AS u
			ON CONFLICT (tbl, key, wall, logical, origin) DO NOTHING
			RETURNING id, tbl, key, wall, logical, origin, at`,
		append([]any{string(w.s.region)}, args...)...,
	).Query(func(rows pgx.Rows) error {
		var id lostID
		var at lostAt
		_, err := pgx.ForEachRow(rows, []any{&at.id, &id.table, &id.key, &id.version.Time.WallTime,
			&id.version.Time.Logical, (*string)(&id.version.Region), &at.at}, func() error {
			added[id] = at
			return nil
		})
		return err
	})
	return added
}

// unstage queues the removal of the copies of the batch's writes that its
// region staged here: the batch resolves them.
func (w *pipeline) unstage(b xregion.Batch) {
	var staged recordArrays
	tbl := make([]string, 0, len(b.Writes))
	for _, wr := range b.Writes {
		tbl = append(tbl, wr.Table)
		staged.add(wr.Record)
	}
	src, args := w.s.rows(2, []string{"text[]", "text[]", "int8[]", "int4[]", "text[]"},
		[]any{tbl, staged.keys, staged.walls, staged.logicals, staged.origins})
	w.q.Queue(`DELETE FROM `+w.s.ident(inboxTable)+` AS i
		USING `+src+` AS u(tbl, key, wall, logical, origin)
		WHERE i.key = u.key AND i.tbl = u.tbl AND i.from_region = $1
		  AND i.wall = u.wall AND i.logical = u.logical AND i.origin = u.origin`,
		append([]any{string(b.From)}, args...)...)
}

// outcome wraps a failure of the write round trip with
// xregion.ErrOutcomeUnknown unless it is certain the commit did not happen:
// the server answered with an error (so it rolled back), or nothing was sent.
func outcome(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if tooLarge(pgErr) {
			return fmt.Errorf("%w: %w", xregion.ErrTooLarge, err)
		}
		return err
	}
	if pgconn.SafeToRetry(err) {
		return err
	}
	return fmt.Errorf("%w: %w", xregion.ErrOutcomeUnknown, err)
}

// tooLarge reports a server error that refuses a statement for its size:
// a limit of the server's (class 54), its memory, or an allocation past
// PostgreSQL's 1 GB per value.
func tooLarge(e *pgconn.PgError) bool {
	return strings.HasPrefix(e.Code, "54") || e.Code == "53200" ||
		e.Code == "XX000" && strings.HasPrefix(e.Message, "invalid memory alloc request size")
}

// rollback ends a failed transaction so the connection can be reused. If it
// cannot, the pool discards the connection, because it is not idle.
func rollback(conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() == 'I' || conn.Conn().IsClosed() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Exec(ctx, "ROLLBACK")
}

func sortedKeys(m map[string]*keyState) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// copyIn is a COPY of new rows into one of the store's tables, in
// PostgreSQL's binary format.
type copyIn struct {
	table   string
	columns string
	data    []byte
}

func (c copyIn) sql(s *Store) string {
	return `COPY ` + s.ident(c.table) + ` (` + c.columns + `) FROM STDIN (FORMAT binary)`
}

// The columns COPY fills, in the order of recordArrays.copyData; the others
// take their defaults (the changelog's tx and at).
const (
	dataColumns      = `key, ` + recordColumns
	changelogColumns = `idx, tbl, origin_tx, origin_idx, ` + dataColumns
)

// recordArrayTypes are the array types of "key, "+recordColumns.
var recordArrayTypes = []string{"text[]", "bytea[]", "int8[]", "int4[]", "text[]", "int8[]", "int4[]", "text[]", "int8[]", "bool[]"}

// valuesMax is the most rows a statement sends as a VALUES list; more go as
// one array per column through unnest. The server reads a VALUES row in
// microseconds, while unnest of many arrays costs it about 40 µs however few
// rows they hold, and the client more to encode them: staging one write took
// 0.20 ms with VALUES and 0.36 ms with unnest, 0.31 against 0.53 for four.
// Each row count is a prepared statement of its own (see the package doc's
// HAZARD), so the limit stays low: group commits of a few writes are what
// it is for.
const valuesMax = 4

// rows returns the rows of a batch, for "FROM <rows> AS u", and their
// arguments, numbered from $first: cols holds one slice per column, of the
// array types types.
func (s *Store) rows(first int, types []string, cols []any) (string, []any) {
	n := reflect.ValueOf(cols[0]).Len()
	if n > s.valuesMax {
		return "unnest(" + placeholders(first, types) + ")", cols
	}
	var b strings.Builder
	args := make([]any, 0, n*len(cols))
	b.WriteString("(VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j, col := range cols {
			if j > 0 {
				b.WriteString(", ")
			}
			args = append(args, reflect.ValueOf(col).Index(i).Interface())
			b.WriteString("$" + strconv.Itoa(first+len(args)-1) + "::" + strings.TrimSuffix(types[j], "[]"))
		}
		b.WriteByte(')')
	}
	b.WriteByte(')')
	return b.String(), args
}

// placeholders returns "$first::type, $first+1::type, …" for types.
func placeholders(first int, types []string) string {
	var b strings.Builder
	for i, t := range types {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(first+i) + "::" + t)
	}
	return b.String()
}
