package kv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/xregion/xregion"
)

// Table is a key/value table on one region's xregion.Store: entries in
// namespaces, with an optional TTL each, replicated to the other regions
// like any table (see the package documentation). Make one per table and
// Store value with New, and share it: New declares the table with the
// Table's Resolver, and a second declaration would replace it. A Table is
// safe for concurrent use.
type Table struct {
	store  xregion.Store
	clock  *xregion.Clock
	name   string
	region xregion.Region
	res    *Resolver
	cfg    config
}

// New declares table in store, resolved by inner (the table's strategy:
// an lww.Resolver on clock, or a partition.Guard around one, with
// WithFence) wrapped in a Resolver, and returns the Table that reads and
// writes it. clock must be the clock that stamps the region's writes, the
// one inner and the replicator use. Options: WithWriter, WithFence,
// WithSweepGrace.
//
// Errors: an *xregion.InvalidError for a nil store, clock, inner or
// writer, a bad table name or a negative sweep grace; DefineTable's errors.
func New(ctx context.Context, store xregion.Store, clock *xregion.Clock, table string, inner xregion.Resolver, opts ...Option) (*Table, error) {
	cfg := config{sweepGrace: DefaultSweepGrace}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if f, ok := cfg.writer.(WriterFunc); cfg.writerSet && (cfg.writer == nil || ok && f == nil) {
		return nil, fmt.Errorf("new kv table: %w", invalid("writer", "nil; pass the table's replicator (a *replicate.Sync or *replicate.Async), or leave WithWriter out to apply to the store"))
	}
	switch {
	case store == nil:
		return nil, fmt.Errorf("new kv table: %w", invalid("store", "nil; pass the region's xregion.Store"))
	case clock == nil:
		return nil, fmt.Errorf("new kv table: %w", invalid("clock", "nil; pass the *xregion.Clock that stamps the region's writes"))
	case cfg.sweepGrace < 0:
		return nil, fmt.Errorf("new kv table: %w", invalid("sweep grace", "%s; want 0 or more, such as %s", cfg.sweepGrace, DefaultSweepGrace))
	}
	if err := xregion.ValidateTableName(table); err != nil {
		return nil, fmt.Errorf("new kv table: %w", err)
	}
	res, err := NewResolver(inner)
	if err != nil {
		return nil, fmt.Errorf("new kv table: %w", err)
	}
	if err := store.DefineTable(ctx, table, res); err != nil {
		return nil, fmt.Errorf("new kv table %s: %w", table, err)
	}
	if !cfg.writerSet {
		cfg.writer = WriterFunc(func(ctx context.Context, ws ...xregion.Write) error {
			_, err := store.Apply(ctx, xregion.Batch{Writes: ws})
			return err
		})
	}
	return &Table{store: store, clock: clock, name: table, region: store.Region(), res: res, cfg: cfg}, nil
}

// Name returns the table's name.
func (t *Table) Name() string { return t.name }

// Resolver returns the resolver the table was declared with in the
// Table's store; package resync needs it to plan a failback.
func (t *Table) Resolver() *Resolver { return t.res }

// Put stores value under key in namespace ns, replacing what the key
// held, and returns the entry written. Options: TTL, IfAbsent, IfMatch.
// The write goes through the Table's Writer: with a replicate.Sync, Put
// returns once the peers hold it.
//
// Put reads the key and writes on what it read (the write's Base), so a
// region's writes to a key are never concurrent with each other and a
// replaced entry never reaches the lost-update ledger; when another writer
// of the region wins the race, Put reads again and retries (MaxAttempts).
//
// Errors: an *xregion.InvalidError for a bad namespace, key, value length
// (over MaxValueLen) or options; ErrExists (IfAbsent); a *ConflictError
// (IfMatch, or MaxAttempts lost races); ErrNotKept; the fence's and the
// Writer's errors, such as a *replicate.SyncError.
func (t *Table) Put(ctx context.Context, ns, key string, value []byte, opts ...WriteOption) (Entry, error) {
	var wc writeConfig
	for _, o := range opts {
		o.applyWrite(&wc)
	}
	rk, err := recordKey(ns, key)
	if err == nil {
		err = wc.validate(value)
	}
	if err != nil {
		return Entry{}, fmt.Errorf("kv: put: %w", err)
	}
	rec, err := t.mutate(ctx, rk, wc.ifMatch == nil, func(s state) (*change, error) {
		switch {
		case (wc.ifAbsent || wc.ifMatch != nil) && s.err != nil:
			return nil, s.err
		case wc.ifAbsent && s.live:
			return nil, fmt.Errorf("%w: %s, version %s", ErrExists, quote(rk), s.rec.Version)
		case wc.ifMatch != nil && (!s.live || s.rec.Version != *wc.ifMatch):
			return nil, &ConflictError{Key: rk, Read: *wc.ifMatch, Found: s.rec.Version}
		}
		return &change{value: value, ttl: wc.ttl}, nil
	})
	if err != nil {
		return Entry{}, fmt.Errorf("kv: put %s: %w", quote(rk), err)
	}
	return entryOf(rec)
}

func (c writeConfig) validate(value []byte) error {
	switch {
	case len(value) > MaxValueLen:
		return invalid("value", "%d bytes; the limit is %d", len(value), MaxValueLen)
	case c.ttlSet && c.ttl <= 0:
		return invalid("ttl", "%s; want a positive duration, or no TTL for an entry that does not expire", c.ttl)
	case c.ifAbsent && c.ifMatch != nil:
		return invalid("put options", "IfAbsent and IfMatch together; an entry cannot be both absent and a given version")
	case c.ifMatch != nil && c.ifMatch.Validate() != nil:
		return fmt.Errorf("IfMatch: %w", c.ifMatch.Validate())
	}
	return nil
}

// Get returns the live entry under key in namespace ns. Errors:
// xregion.ErrNotFound when the key holds none (never written, removed, or
// expired at the region's HLC now); an *xregion.InvalidError for a bad
// namespace or key; an *xregion.CorruptError for a stored value that is
// not a kv entry; the store's errors.
func (t *Table) Get(ctx context.Context, ns, key string) (Entry, error) {
	rk, err := recordKey(ns, key)
	if err != nil {
		return Entry{}, fmt.Errorf("kv: get: %w", err)
	}
	s, err := t.read(ctx, rk)
	switch {
	case err != nil:
		return Entry{}, fmt.Errorf("kv: get %s: %w", quote(rk), err)
	case s.err != nil:
		return Entry{}, fmt.Errorf("kv: get %s: %w", quote(rk), s.err)
	case !s.live:
		return Entry{}, fmt.Errorf("kv: get %s: %w", quote(rk), xregion.ErrNotFound)
	}
	return s.entry, nil
}

// Contains reports whether key in namespace ns holds a live entry. Errors
// as Get's, but for ErrNotFound.
func (t *Table) Contains(ctx context.Context, ns, key string) (bool, error) {
	_, err := t.Get(ctx, ns, key)
	if errors.Is(err, xregion.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// Remove deletes what key in namespace ns holds, live or expired, by
// writing a tombstone; a key that holds nothing is left alone. The
// tombstone replicates like any write, and the store's retention collects
// it later. Errors as Put's.
func (t *Table) Remove(ctx context.Context, ns, key string) error {
	rk, err := recordKey(ns, key)
	if err != nil {
		return fmt.Errorf("kv: remove: %w", err)
	}
	_, err = t.mutate(ctx, rk, true, func(s state) (*change, error) {
		if s.rec.Version.IsZero() || s.rec.Tombstone {
			return nil, nil
		}
		return &change{remove: true}, nil
	})
	if err != nil {
		return fmt.Errorf("kv: remove %s: %w", quote(rk), err)
	}
	return nil
}

// state is what a key holds at a reading of the region's HLC.
type state struct {
	rec   xregion.Record // the stored record; zero if the key was never written
	now   xregion.Timestamp
	entry Entry // when live
	live  bool  // rec is an entry, not removed and not expired at now
	err   error // rec's value is not a kv entry
}

// read returns what the key holds now.
func (t *Table) read(ctx context.Context, rk string) (state, error) {
	rec, err := t.store.Get(ctx, t.name, rk)
	if err != nil && !errors.Is(err, xregion.ErrNotFound) {
		return state{}, err
	}
	return stateOf(rec, t.clock.Now()), nil
}

func stateOf(rec xregion.Record, now xregion.Timestamp) state {
	s := state{rec: rec, now: now}
	if rec.Version.IsZero() || rec.Tombstone {
		return s
	}
	s.entry, s.err = entryOf(rec)
	s.live = s.err == nil && !s.entry.Expired(now)
	return s
}

// change is a write a decision asks for: a value, or a removal.
type change struct {
	remove bool
	value  []byte
	ttl    time.Duration
}

// mutate reads the key, asks decide what to write (nil: nothing), and
// writes it conditional on what it read; while another writer of the
// region wins the race and retry is set, it reads and decides again, up to
// MaxAttempts times. It returns the record written, zero if none.
func (t *Table) mutate(ctx context.Context, rk string, retry bool, decide func(state) (*change, error)) (xregion.Record, error) {
	for attempt := 1; ; attempt++ {
		s, err := t.read(ctx, rk)
		if err != nil {
			return xregion.Record{}, err
		}
		ch, err := decide(s)
		if err != nil || ch == nil {
			return xregion.Record{}, err
		}
		rec, err := t.record(rk, s.rec.Version, *ch)
		if err != nil {
			return xregion.Record{}, err
		}
		err = t.commit(ctx, rec)
		if retry && attempt < MaxAttempts && retriable(err) {
			continue
		}
		return rec, err
	}
}

// retriable reports whether a write failed only because another writer
// got there first, and certainly left nothing behind.
func retriable(err error) bool {
	return errors.Is(err, ErrConflict) && !errors.Is(err, xregion.ErrOutcomeUnknown)
}

// record builds the write of ch on key rk, which held base: fenced, stamped
// after base, and with its expiry computed from its own timestamp.
func (t *Table) record(rk string, base xregion.Version, ch change) (xregion.Record, error) {
	rec := xregion.Record{Key: rk, Base: base, Tombstone: ch.remove}
	if t.cfg.fence != nil {
		var err error
		if rec, err = t.cfg.fence(rec); err != nil {
			return xregion.Record{}, &fenceError{err}
		}
	}
	v, err := t.clock.Stamp(t.region, base)
	if err != nil {
		return xregion.Record{}, err
	}
	rec.Version = v
	if !ch.remove {
		rec.Value = appendEnvelope(nil, envelope{nonce: rand.Uint64(), expires: expiry(v, ch.ttl), value: ch.value})
	}
	return rec, nil
}

// fenceError is a refusal of the fence (WithFence).
type fenceError struct{ err error }

func (e *fenceError) Error() string { return e.err.Error() }
func (e *fenceError) Unwrap() error { return e.err }

// commit writes recs through the Writer and checks that the store kept
// each, as the Table's Resolver saw it. A conflict is returned as the
// *ConflictError alone when the write certainly left nothing anywhere.
func (t *Table) commit(ctx context.Context, recs ...xregion.Record) error {
	ws := make([]xregion.Write, len(recs))
	for i, r := range recs {
		ws[i] = xregion.Write{Table: t.name, Record: r}
	}
	outs, done := t.res.track(ws)
	defer done()
	if err := t.cfg.writer.Write(ctx, ws...); err != nil {
		var ce *ConflictError
		if errors.As(err, &ce) && !errors.Is(err, xregion.ErrOutcomeUnknown) {
			return ce
		}
		return err
	}
	for i, o := range outs {
		switch r := t.res.result(o); {
		case !r.seen:
			return fmt.Errorf("%w: %s %s was applied without the Table's Resolver: the table was declared again with another resolver, or the Writer writes to another store",
				ErrNotKept, t.name, quote(recs[i].Key))
		case !r.kept:
			return fmt.Errorf("%w: %s %s version %s: %s", ErrNotKept, t.name, quote(recs[i].Key), recs[i].Version, r.reason)
		}
	}
	return nil
}
