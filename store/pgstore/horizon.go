package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xregion/xregion"
)

// Horizon is where Changes stops reading: the oldest transaction still open
// on the server, in any database, that has a transaction id. Changes
// returns no change of a transaction at or after it (see the package doc,
// Reading the changelog), so while one transaction stays open the horizon
// stays where it is, shippers ship nothing newer, and the RPO grows.
type Horizon struct {
	// Pos is the horizon as a changelog position: Changes returns changes
	// before it only.
	Pos xregion.Position
	// Behind counts the transaction ids the server has issued since the
	// one holding the horizon: zero when no transaction is open.
	Behind int64
	// Since is when the transaction holding the horizon began (for a
	// prepared transaction, when it was prepared); zero when none is open,
	// or when the store's role may not see it (see the package doc).
	Since time.Time
	// PID is the process id of the backend running that transaction; zero
	// for a prepared transaction, or when none is open.
	PID int32
	// Database is the database it runs in.
	Database string
	// Now is the server's clock when the horizon was read.
	Now time.Time
}

// Age is how long the horizon has been held: Now less Since, zero when
// Since is unknown.
func (h Horizon) Age() time.Duration {
	if h.Since.IsZero() {
		return 0
	}
	return max(h.Now.Sub(h.Since), 0)
}

// Horizon reads the changelog's horizon and the transaction holding it,
// from pg_stat_activity or pg_prepared_xacts.
func (s *Store) Horizon(ctx context.Context) (Horizon, error) {
	var (
		h     Horizon
		pos   position
		pid   *int32
		db    *string
		since *time.Time
	)
	err := s.pool.QueryRow(ctx, `WITH h AS (
			SELECT pg_snapshot_xmin(c) AS xmin, pg_snapshot_xmax(c) AS xmax FROM pg_current_snapshot() AS c)
		SELECT h.xmin::text::bigint + p.shift, h.xmax::text::bigint - h.xmin::text::bigint,
			holder.pid, holder.datname, holder.since, clock_timestamp()
		FROM h CROSS JOIN `+s.ident(positionsTable)+` AS p
		LEFT JOIN LATERAL (
			SELECT a.pid, a.datname::text, a.xact_start AS since FROM pg_stat_activity AS a WHERE a.backend_xid = xid(h.xmin)
			UNION ALL
			SELECT NULL, x.database::text, x.prepared FROM pg_prepared_xacts AS x WHERE x.transaction = xid(h.xmin)
			LIMIT 1) AS holder ON h.xmin < h.xmax
		WHERE p.one`).Scan(&pos.tx, &h.Behind, &pid, &db, &since, &h.Now)
	if err != nil {
		return Horizon{}, fmt.Errorf("read horizon: %w", err)
	}
	h.Pos = pos.position()
	if pid != nil {
		h.PID = *pid
	}
	if db != nil {
		h.Database = *db
	}
	if since != nil {
		h.Since = *since
	}
	return h, nil
}

// HorizonCollector exports the age of a store's changelog horizon, read at
// each scrape and labelled by region: alert on it well before it nears the
// RPO target, since replication to every peer waits behind it. It is safe
// for concurrent use.
//
// Where the transaction holding the horizon cannot be seen (the store's
// role lacks pg_read_all_stats), its age is counted from the first scrape
// that found the horizon where it is: it may read low, by up to a scrape
// interval plus however long the transaction was open before.
type HorizonCollector struct {
	s                  *Store
	timeout            time.Duration
	age, behind, holds *prometheus.Desc
	mu                 struct {
		sync.Mutex
		pos  xregion.Position // the horizon at the last scrape
		seen time.Time        // when it was first found there
	}
}

// NewHorizonCollector returns an unregistered collector for s's horizon.
func NewHorizonCollector(s *Store) *HorizonCollector {
	l := []string{"region"}
	return &HorizonCollector{s: s, timeout: 5 * time.Second,
		age: prometheus.NewDesc("xregion_changelog_horizon_age_seconds",
			"How long the oldest transaction open on the PostgreSQL server, which holds back every changelog read, has been open; 0 when none is.", l, nil),
		behind: prometheus.NewDesc("xregion_changelog_horizon_behind_transactions",
			"Transaction ids the server has issued since the one holding the changelog horizon.", l, nil),
		holds: prometheus.NewDesc("xregion_changelog_horizon_holder_pid",
			"Process id of the backend whose open transaction holds the changelog horizon; 0 for none, or a prepared transaction.", l, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *HorizonCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.age
	ch <- c.behind
	ch <- c.holds
}

// Collect implements prometheus.Collector.
func (c *HorizonCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	h, err := c.s.Horizon(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.age, errors.Join(errors.New("read changelog horizon"), err))
		return
	}
	age := c.observedAge(h)
	region := string(c.s.Region())
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age.Seconds(), region)
	ch <- prometheus.MustNewConstMetric(c.behind, prometheus.GaugeValue, float64(h.Behind), region)
	ch <- prometheus.MustNewConstMetric(c.holds, prometheus.GaugeValue, float64(h.PID), region)
}

// observedAge is h's age, or, where the holder's start is not visible, how long
// the horizon has been seen where it is.
func (c *HorizonCollector) observedAge(h Horizon) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.Pos != c.mu.pos || c.mu.seen.IsZero() {
		c.mu.pos, c.mu.seen = h.Pos, h.Now
	}
	if h.Behind == 0 || !h.Since.IsZero() {
		return h.Age()
	}
	return max(h.Now.Sub(c.mu.seen), 0)
}
