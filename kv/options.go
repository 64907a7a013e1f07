package kv

import (
	"context"
	"time"

	"github.com/xregion/xregion"
)

// Writer carries a Table's writes to the region's store and on to its
// peers: a *replicate.Sync (Tier 1: a write returns once the peers hold
// it) or a *replicate.Async (a write returns once the local store holds
// it). Both implement it. Write must apply the writes, already stamped, in
// the Store the Table was made on, through its table's Resolver.
type Writer interface {
	Write(ctx context.Context, ws ...xregion.Write) error
}

// WriterFunc adapts a function to Writer.
type WriterFunc func(ctx context.Context, ws ...xregion.Write) error

// Write calls f.
func (f WriterFunc) Write(ctx context.Context, ws ...xregion.Write) error { return f(ctx, ws...) }

// DefaultSweepGrace is how long after it expired an entry is left before
// Sweep removes it, unless WithSweepGrace says otherwise: longer than the
// RPO targets of Tiers 1 to 3 (see package replicate), so that a write
// another region makes to the key after the expiry has arrived here
// before the sweep (see Table.Sweep).
const DefaultSweepGrace = time.Hour

// MaxAttempts is how many times a Put without IfMatch, a Remove or a
// checkpoint save reads the key and writes again while other writers of
// the region win the race, before it returns a *ConflictError.
const MaxAttempts = 16

// Option configures a Table.
type Option interface{ apply(*config) }

type option func(*config)

func (f option) apply(c *config) { f(c) }

type config struct {
	writer     Writer
	fence      func(xregion.Record) (xregion.Record, error)
	sweepGrace time.Duration
	writerSet  bool
}

// WithWriter sends the Table's writes through w: the replicator of the
// table's tier, built on the same Store and Clock as the Table. Default:
// Store.Apply on the Table's store, which commits locally; a replicator
// running on that store ships the writes from its changelog at its next
// poll.
func WithWriter(w Writer) Option {
	return option(func(c *config) { c.writer, c.writerSet = w, true })
}

// WithFence has every record checked and completed by fence before it is
// stamped and written: for a single-writer table, pass the region's
// partition.Router.Stamp, which sets the record's ownership epoch and
// refuses a key homed in another region with a *partition.NotHomeError
// (the call returns it: send the call to the home). Default: none.
func WithFence(fence func(xregion.Record) (xregion.Record, error)) Option {
	return option(func(c *config) { c.fence = fence })
}

// WithSweepGrace sets how long after it expired an entry is left before
// Sweep removes it. Default DefaultSweepGrace; 0 removes entries as soon
// as they expire.
func WithSweepGrace(d time.Duration) Option {
	return option(func(c *config) { c.sweepGrace = d })
}

// WriteOption qualifies one Put.
type WriteOption interface{ applyWrite(*writeConfig) }

type writeOption func(*writeConfig)

func (f writeOption) applyWrite(c *writeConfig) { f(c) }

type writeConfig struct {
	ttl      time.Duration
	ttlSet   bool
	ifAbsent bool
	ifMatch  *xregion.Version
}

// TTL makes the entry expire d after the write's HLC timestamp: at the
// same instant in every region (see Entry.Expires). d must be positive.
// Default: the entry does not expire.
func TTL(d time.Duration) WriteOption {
	return writeOption(func(c *writeConfig) { c.ttl, c.ttlSet = d, true })
}

// IfAbsent writes only if the key holds no live entry (never written,
// removed, or expired); otherwise Put returns ErrExists. Within a region
// exactly one of several concurrent IfAbsent writers succeeds.
func IfAbsent() WriteOption {
	return writeOption(func(c *writeConfig) { c.ifAbsent = true })
}

// IfMatch writes only if the key holds the live entry stored by version v
// (an Entry.Version); otherwise Put returns a *ConflictError, without
// retrying.
func IfMatch(v xregion.Version) WriteOption {
	return writeOption(func(c *writeConfig) { c.ifMatch = &v })
}
