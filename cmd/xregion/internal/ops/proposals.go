package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xregion/xregion"
	"github.com/xregion/xregion/cmd/xregion/internal/config"
	"github.com/xregion/xregion/lww"
	"github.com/xregion/xregion/store/pgstore"
)

// Where proposals live in a region's database: table Table of a pgstore in
// schema Schema, apart from the replicated schema (see the package doc).
const (
	Schema = "xregion_failover"
	Table  = "proposals"
)

var (
	// ErrNoProposals is returned by OpenProposals without create when the
	// region's database has never held a proposal.
	ErrNoProposals = errors.New("no failover proposals in this region")
	// ErrNoAnswer is returned by OpenProposals when the region's database
	// does not answer in time.
	ErrNoAnswer = errors.New("the database does not answer")
	// ErrNotFound is returned when no proposal has the id.
	ErrNotFound = errors.New("no such failover proposal")
	// ErrBusy is returned by Lock while another command holds the
	// proposal's lease.
	ErrBusy = errors.New("another xregion command is working on this proposal")
	// ErrConcurrent is returned by Save when the proposal changed since it
	// was read, which the lease should prevent.
	ErrConcurrent = errors.New("the proposal changed while it was being saved")
)

// Proposals are the failover proposals stored in one region's database.
// It is safe for concurrent use.
type Proposals struct {
	region xregion.Region
	pool   *pgxpool.Pool
	store  *pgstore.Store
	clock  *xregion.Clock
}

// OpenProposals connects to region r's database. With create it makes the
// proposals' schema if it is missing; without, a database that has none
// gives ErrNoProposals and is left as it was. A region that does not
// answer within timeout (zero: no limit but ctx) gives ErrNoAnswer.
func OpenProposals(ctx context.Context, r config.Region, create bool, timeout time.Duration) (*Proposals, error) {
	pool, err := pgxpool.New(ctx, r.DSN)
	if err != nil {
		// pgx's parse errors can quote the DSN, password and all.
		return nil, fmt.Errorf("region %s: the dsn does not parse as a PostgreSQL connection string", r.Name)
	}
	if timeout > 0 {
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := pool.Ping(pctx)
		cancel()
		if err != nil {
			pool.Close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("region %s: %w within %s: %s", r.Name, ErrNoAnswer, round(timeout), oneLine(err))
		}
	}
	p, err := openProposals(ctx, r.Name, pool, create)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return p, nil
}

func openProposals(ctx context.Context, region xregion.Region, pool *pgxpool.Pool, create bool) (*Proposals, error) {
	if !create {
		var exists bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, Schema).Scan(&exists); err != nil {
			return nil, fmt.Errorf("region %s: read the proposals: %w", region, err)
		}
		if !exists {
			return nil, fmt.Errorf("region %s: %w", region, ErrNoProposals)
		}
	}
	store, err := pgstore.New(ctx, pool, region, pgstore.WithSchema(Schema))
	if err != nil {
		return nil, fmt.Errorf("region %s: open the proposals: %w", region, err)
	}
	clock, err := xregion.NewClock(xregion.SystemClock{})
	if err != nil {
		return nil, err
	}
	res, err := lww.New(clock)
	if err != nil {
		return nil, err
	}
	if err := store.DefineTable(ctx, Table, res); err != nil {
		return nil, fmt.Errorf("region %s: open the proposals: %w", region, err)
	}
	return &Proposals{region: region, pool: pool, store: store, clock: clock}, nil
}

// Region is the region whose database holds these proposals.
func (s *Proposals) Region() xregion.Region { return s.region }

// Close closes the connections.
func (s *Proposals) Close() { s.pool.Close() }

// Create stores a new proposal. It refuses an id that is taken.
func (s *Proposals) Create(ctx context.Context, p Proposal) error {
	if _, _, err := s.Get(ctx, p.ID); !errors.Is(err, ErrNotFound) {
		if err == nil {
			err = fmt.Errorf("proposal %s exists already", p.ID)
		}
		return err
	}
	_, err := s.Save(ctx, p, xregion.Version{})
	return err
}

// Get returns the proposal with the id and the version of its record, the
// base of its next Save. Errors: ErrNotFound, and the store's.
func (s *Proposals) Get(ctx context.Context, id string) (Proposal, xregion.Version, error) {
	rec, err := s.store.Get(ctx, Table, id)
	if errors.Is(err, xregion.ErrNotFound) || err == nil && rec.Tombstone {
		return Proposal{}, xregion.Version{}, fmt.Errorf("%w %s in region %s", ErrNotFound, id, s.region)
	}
	if err != nil {
		return Proposal{}, xregion.Version{}, fmt.Errorf("read proposal %s: %w", id, err)
	}
	p, err := decode(rec)
	return p, rec.Version, err
}

// Save writes p over the version base it was read at, and returns the new
// version. It fails with ErrConcurrent if p changed since.
func (s *Proposals) Save(ctx context.Context, p Proposal, base xregion.Version) (xregion.Version, error) {
	value, err := json.Marshal(p)
	if err != nil {
		return xregion.Version{}, err
	}
	v, err := s.clock.Stamp(s.region, base)
	if err != nil {
		return xregion.Version{}, fmt.Errorf("save proposal %s: %w", p.ID, err)
	}
	res, err := s.store.Apply(ctx, xregion.Batch{Writes: []xregion.Write{{Table: Table,
		Record: xregion.Record{Key: p.ID, Value: value, Version: v, Base: base}}}})
	if err != nil {
		return xregion.Version{}, fmt.Errorf("save proposal %s: %w", p.ID, err)
	}
	if res.Conflicts() > 0 {
		return xregion.Version{}, fmt.Errorf("save proposal %s: %w; run the command again", p.ID, ErrConcurrent)
	}
	return v, nil
}

// List returns every proposal, oldest first.
func (s *Proposals) List(ctx context.Context) ([]Proposal, error) {
	kd, err := s.store.KeyDigests(ctx, Table, []xregion.KeyRange{xregion.AllKeys})
	if err != nil {
		return nil, fmt.Errorf("list proposals: %w", err)
	}
	keys := make([]string, len(kd))
	for i, k := range kd {
		keys[i] = k.Key
	}
	recs, err := s.store.Records(ctx, Table, keys)
	if err != nil {
		return nil, fmt.Errorf("list proposals: %w", err)
	}
	var out []Proposal
	for _, r := range recs {
		if r.Tombstone {
			continue
		}
		p, err := decode(r)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Proposal) int { return a.ProposedAt.Compare(b.ProposedAt) })
	return out, nil
}

// Lock takes the proposal's lease: the caller alone changes it until it
// calls the returned release. Errors: ErrBusy, and the store's.
func (s *Proposals) Lock(ctx context.Context, id string) (release func(), err error) {
	l, ok, err := s.store.TryLease(ctx, "failover "+id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("proposal %s: %w; wait for it to finish and run the command again", id, ErrBusy)
	}
	return l.Release, nil
}

func decode(rec xregion.Record) (Proposal, error) {
	var p Proposal
	if err := json.Unmarshal(rec.Value, &p); err != nil {
		return Proposal{}, fmt.Errorf("proposal %s: %w: %v", rec.Key, xregion.ErrCorrupt, err)
	}
	return p, nil
}
