package partition

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/xregion/xregion"
)

// Defaults of the options below.
const (
	// DefaultTable is the xregion table that holds the ownership map.
	DefaultTable = "partition_owners"
	// DefaultApprovals is how many distinct people must approve a
	// failover: the two-person rule of the manual runbook.
	DefaultApprovals = 2
	// DefaultPollInterval is how often Handover looks whether the new home
	// has caught up.
	DefaultPollInterval = 100 * time.Millisecond
)

// Option configures a Router. Options are validated once, in New.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	table     string
	approvals int
	poll      time.Duration
	logger    *slog.Logger
	entity    func(key string) string
}

// WithTable names the table that holds the ownership map. Default
// DefaultTable. Every region must use the same name: the map replicates
// between regions like any other table.
func WithTable(name string) Option { return optionFunc(func(c *config) { c.table = name }) }

// WithApprovals sets how many distinct approvals (distinct people, see
// Approval) Failover requires. Default DefaultApprovals; 1 to 16.
func WithApprovals(n int) Option { return optionFunc(func(c *config) { c.approvals = n }) }

// WithPollInterval sets how often Handover checks whether the new home has
// applied the change of ownership. Default DefaultPollInterval.
func WithPollInterval(d time.Duration) Option { return optionFunc(func(c *config) { c.poll = d }) }

// WithEntityKey sets how the Router finds the entity a record key belongs
// to, so that every table of an entity lands in the same partition: for
// keys such as "customer-42/order-7", a function returning "customer-42".
// Default: the record key is the entity key. The function is part of the
// routing: every process of every region must use the same one, and it
// must be pure.
func WithEntityKey(entity func(key string) string) Option {
	return optionFunc(func(c *config) { c.entity = entity })
}

// WithLogger sets where the Router reports the ownership changes it makes.
// Default: a logger that discards everything.
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.logger = l }) }

// Router is one region's view of the ownership map: which region is the
// home of each partition, at which epoch. It tells a service where a key's
// writes must go (Route), stamps the writes it may make (Stamp), moves
// ownership (Bootstrap, Handover, Failover), and backs the Guards that fence
// stale writes in this region's store.
//
// The map lives in the store's table DefaultTable (see WithTable), one
// record per partition, and replicates like any table; the Router keeps a
// snapshot of it in memory so that routing and Guard.Resolve do no I/O. The
// snapshot only ever moves forward (to higher epochs). It is updated when
// this Router changes ownership, when Refresh reads the table, and when the
// store applies an ownership record from a peer through the table's
// resolver, which this Router declared.
//
// A Router is safe for concurrent use.
type Router struct {
	store  xregion.Store
	clock  *xregion.Clock
	region xregion.Region
	parts  Partitioner
	cfg    config

	mu struct {
		sync.RWMutex
		owners []Ownership // by partition
		// seen is, per partition, the highest epoch carried by a data
		// record a Guard accepted: evidence of a grant the map here may not
		// know yet. While it is above the map's epoch, Stamp refuses.
		seen []uint64
	}
}

// New returns the Router of the region whose store is given, for a map of
// partitions partitions. clock must be the clock that stamps the region's
// writes. New declares the ownership table on store and reads the map
// (Refresh). It refuses a map created with another partition count
// (*PartitionCountError).
func New(ctx context.Context, store xregion.Store, clock *xregion.Clock, partitions int, opts ...Option) (*Router, error) {
	cfg := config{table: DefaultTable, approvals: DefaultApprovals, poll: DefaultPollInterval, entity: func(key string) string { return key }}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if store == nil {
		return nil, invalid("partition router store", "nil; pass the region's xregion.Store")
	}
	if clock == nil {
		return nil, invalid("partition router clock", "nil; pass the *xregion.Clock that stamps this region's writes")
	}
	parts, err := NewPartitioner(partitions)
	if err != nil {
		return nil, fmt.Errorf("new partition router: %w", err)
	}
	if err := xregion.ValidateTableName(cfg.table); err != nil {
		return nil, fmt.Errorf("new partition router: %w", err)
	}
	if cfg.approvals < 1 || cfg.approvals > maxApprovals {
		return nil, invalid("failover approvals", "%d; want 1 to %d (default %d)", cfg.approvals, maxApprovals, DefaultApprovals)
	}
	if cfg.poll <= 0 {
		return nil, invalid("poll interval", "%s; want a positive duration such as %s", cfg.poll, DefaultPollInterval)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.entity == nil {
		return nil, invalid("entity key function", "nil; leave WithEntityKey out to partition by the record key")
	}
	r := &Router{store: store, clock: clock, region: store.Region(), parts: parts, cfg: cfg}
	r.mu.owners = make([]Ownership, partitions)
	for p := range r.mu.owners {
		r.mu.owners[p].Partition = p
	}
	r.mu.seen = make([]uint64, partitions)
	if err := store.DefineTable(ctx, cfg.table, ownersTable{r}); err != nil {
		return nil, fmt.Errorf("new partition router: %w", err)
	}
	if err := r.Refresh(ctx); err != nil {
		return nil, fmt.Errorf("new partition router: %w", err)
	}
	return r, nil
}

// Region returns the region this Router routes for.
func (r *Router) Region() xregion.Region { return r.region }

// Table returns the name of the ownership table.
func (r *Router) Table() string { return r.cfg.table }

// Resolver is the Resolver New declared the ownership table with, for
// tools that resolve its records outside the store (package resync): a
// record it accepts teaches this Router the grant it carries.
func (r *Router) Resolver() xregion.Resolver { return ownersTable{r} }

// Partitioner returns the partition function.
func (r *Router) Partitioner() Partitioner { return r.parts }

// Partition returns the partition of a record key: the partition of its
// entity key (see WithEntityKey).
func (r *Router) Partition(key string) int { return r.parts.Partition(r.cfg.entity(key)) }

// Route returns the ownership of key's partition as this region knows it:
// Home is where the key's writes must go, and Epoch is what they carry.
func (r *Router) Route(key string) Ownership { return r.Owner(r.Partition(key)) }

// Owner returns partition p's entry of the map as this region knows it; the
// zero Ownership (with Partition set) if p has no home or is out of range.
func (r *Router) Owner(p int) Ownership {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if p < 0 || p >= len(r.mu.owners) {
		return Ownership{Partition: p}
	}
	return r.mu.owners[p].clone()
}

// Owners returns the whole map as this region knows it, by partition.
func (r *Router) Owners() []Ownership {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Ownership, len(r.mu.owners))
	for i, o := range r.mu.owners {
		out[i] = o.clone()
	}
	return out
}

func (o Ownership) clone() Ownership {
	o.By = append([]string(nil), o.By...)
	if len(o.By) == 0 {
		o.By = nil
	}
	return o
}

// Stamp checks that this region may write rec now and returns it with the
// epoch it must carry. It refuses with a *NotHomeError when the key's
// partition is homed elsewhere (or nowhere), and with a *StaleEpochError
// when this region has accepted a write of the partition under a newer
// epoch than its map knows: the map is behind, ownership has moved, and
// Refresh will show where. A record already stamped with a Version must
// carry this region's.
//
// Stamp is the check before Store.Apply. A move that lands between the two
// fences the write in the store instead (it goes to the quarantine, and
// Result.Lost lists it); Check repeats the test for a record stamped
// earlier.
func (r *Router) Stamp(rec xregion.Record) (xregion.Record, error) {
	if err := xregion.ValidateKey(rec.Key); err != nil {
		return rec, fmt.Errorf("stamp: %w", err)
	}
	if !rec.Version.IsZero() && rec.Version.Region != r.region {
		return rec, invalid("record "+quote(rec.Key), "version of region %s stamped in %s; a region writes only its own versions", rec.Version.Region, r.region)
	}
	p := r.Partition(rec.Key)
	cur, seen := r.current(p)
	if cur.Home != r.region {
		return rec, &NotHomeError{Key: rec.Key, Partition: p, Region: r.region, Home: cur.Home, Epoch: cur.Epoch}
	}
	if seen > cur.Epoch {
		return rec, &StaleEpochError{Key: rec.Key, Partition: p, Current: seen, Got: cur.Epoch}
	}
	rec.Epoch = cur.Epoch
	return rec, nil
}

// Check reports whether rec, stamped earlier, may still be applied in this
// region: a *StaleEpochError if its epoch is older than its partition's
// current one, a *NotHomeError if this region is not the home. A record
// whose epoch is newer than this region's map is refused as invalid: this
// region cannot have stamped it.
func (r *Router) Check(rec xregion.Record) error {
	p := r.Partition(rec.Key)
	cur, seen := r.current(p)
	if current := max(cur.Epoch, seen); rec.Epoch < current {
		return &StaleEpochError{Key: rec.Key, Partition: p, Current: current, Got: rec.Epoch}
	}
	if cur.Home != r.region {
		return &NotHomeError{Key: rec.Key, Partition: p, Region: r.region, Home: cur.Home, Epoch: cur.Epoch}
	}
	if rec.Epoch > cur.Epoch {
		return invalid("record "+quote(rec.Key), "epoch %d is ahead of partition %d's epoch %d here; stamp records with Router.Stamp", rec.Epoch, p, cur.Epoch)
	}
	return nil
}

// current returns partition p's ownership and the highest epoch seen on its
// data.
func (r *Router) current(p int) (Ownership, uint64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mu.owners[p], r.mu.seen[p]
}

// observe moves the snapshot to o if o is a later grant than the one it
// holds. It never moves backwards, so observing a grant twice, or out of
// order, is harmless.
func (r *Router) observe(o Ownership) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if o.Partition < 0 || o.Partition >= len(r.mu.owners) || !o.beats(r.mu.owners[o.Partition]) {
		return false
	}
	r.mu.owners[o.Partition] = o.clone()
	return true
}

// sawEpoch records that a data record of partition p carried epoch e.
func (r *Router) sawEpoch(p int, e uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.seen[p] = max(r.mu.seen[p], e)
}

// Refresh reads the whole ownership map from the store into the snapshot.
// Call it at start-up (New does), and in processes that do not apply the
// replicated ownership table themselves, often enough that routing follows
// moves made elsewhere.
func (r *Router) Refresh(ctx context.Context) error {
	all := make([]int, r.parts.N())
	for p := range all {
		all[p] = p
	}
	return r.refresh(ctx, all)
}

// refresh reads the ownership records of the given partitions.
func (r *Router) refresh(ctx context.Context, partitions []int) error {
	for _, p := range partitions {
		rec, err := r.store.Get(ctx, r.cfg.table, OwnershipKey(p))
		if errors.Is(err, xregion.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read ownership of partition %d: %w", p, err)
		}
		o, err := r.decode(rec)
		if err != nil {
			return fmt.Errorf("read ownership of partition %d: %w", p, err)
		}
		r.observe(o)
	}
	return nil
}

// decode reads an ownership record of this map.
func (r *Router) decode(rec xregion.Record) (Ownership, error) {
	o, n, err := decodeOwnership(rec)
	if err != nil {
		return Ownership{}, err
	}
	if n != r.parts.N() {
		return Ownership{}, &PartitionCountError{Table: r.cfg.table, Key: rec.Key, Stored: n, Configured: r.parts.N()}
	}
	return o, nil
}

// ownersTable is the Resolver of the ownership table: the later grant wins
// (higher epoch, then higher record version), so every region ends up with
// the same map whatever order grants reach it in; and every grant the store
// keeps is observed into the Router's snapshot at once, so a Guard fences
// by it from the next record on.
//
// Observing inside Resolve is a side effect on memory only. It is safe even
// if the store's transaction is then rolled back: the grant exists (it was
// made in some region), and the snapshot only ever moves to later grants.
type ownersTable struct{ r *Router }

func (t ownersTable) Resolve(local, incoming xregion.Record) (xregion.Resolution, error) {
	in, err := t.r.decode(incoming)
	if err != nil {
		return xregion.Resolution{}, fmt.Errorf("partition: refuse %w", err)
	}
	if local.Version.IsZero() {
		t.r.observe(in)
		return xregion.Resolution{Record: incoming.Clone(), Changed: true}, nil
	}
	if local.Equal(incoming) {
		return xregion.Resolution{}, nil
	}
	held, err := t.r.decode(local)
	if err != nil {
		return xregion.Resolution{}, fmt.Errorf("partition: stored %w", err)
	}
	var res xregion.Resolution
	winner, loser := held, incoming
	if in.beats(held) {
		res = xregion.Resolution{Record: incoming.Clone(), Changed: true}
		winner, loser = in, local
	}
	t.r.observe(winner)
	if in.Epoch == held.Epoch {
		// Two grants of one epoch are two moves decided without seeing
		// each other (each move bumps the epoch it saw): a split brain.
		// The losing grant goes to the ledger so that someone looks.
		lost := loser.Clone()
		res.Lost = &lost
	}
	return res, nil
}
