package replicate

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xregion/xregion"
)

// Metrics holds the Prometheus collectors of replicators: register them with
// Collectors, pass Metrics to replicators with WithMetrics, and add a
// LagCollector per replicator. A nil *Metrics records nothing.
type Metrics struct {
	syncWrite *prometheus.HistogramVec
	removed   *prometheus.CounterVec // retention, by what it removed
	truncated *prometheus.CounterVec // retention, by peer that lacked what it removed
}

// NewMetrics returns unregistered collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		syncWrite: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "xregion_sync_write_seconds",
			Help:    "Latency of synchronous writes, from Write to acknowledgement or failure.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5 ms to 16 s
		}, []string{"result"}),
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xregion_retention_removed_total",
			Help: "Rows retention removed from the local store, by what: changes, peer_changes, tombstones, ledger, staged.",
		}, []string{"what"}),
		truncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xregion_retention_truncated_unapplied_total",
			Help: "Times retention removed changes a peer had not applied (Retention.MaxUnconfirmed reached): the peer needs a resync.",
		}, []string{"peer"}),
	}
}

// Collectors returns the collectors to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.syncWrite, m.removed, m.truncated}
}

// WithMetrics records the replicator's write latencies, and what retention
// removes, in m. Default: none.
func WithMetrics(m *Metrics) Option { return option(func(c *config) { c.metrics = m }) }

func (m *Metrics) observeRetention(r RetentionReport) {
	if m == nil {
		return
	}
	for what, n := range map[string]int{"changes": r.Changes, "peer_changes": r.PeerChanges, "tombstones": r.Tombstones,
		"ledger": r.Ledger, "staged": r.Staged} {
		m.removed.WithLabelValues(what).Add(float64(n))
	}
}

func (m *Metrics) observeTruncated(peer xregion.Region) {
	if m == nil {
		return
	}
	m.truncated.WithLabelValues(string(peer)).Inc()
}

func (m *Metrics) observeSync(d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.syncWrite.WithLabelValues(result).Observe(d.Seconds())
}

// LagCollector exports a replicator's lag, measured at each scrape, labelled
// by tier and peer.
type LagCollector struct {
	tier    string
	r       xregion.Lagger
	clock   xregion.Timers
	timeout time.Duration
	rpo, pending, pendingBytes, sinceContact,
	shipped, conflicts, up *prometheus.Desc
}

// NewLagCollector returns a collector for r's lag; tier labels its series.
// Of the options, only WithTimers applies: the clock LastContact is read
// against, which should be r's.
func NewLagCollector(tier string, r xregion.Lagger, opts ...Option) *LagCollector {
	l := []string{"tier", "peer"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, l, nil) }
	return &LagCollector{tier: tier, r: r, clock: newConfig(opts).clock, timeout: 5 * time.Second,
		rpo:          d("xregion_replication_rpo_seconds", "Age of the oldest change committed here that the peer lacks; 0 when it lacks none."),
		pending:      d("xregion_replication_pending_changes", "Changes the peer has not applied."),
		pendingBytes: d("xregion_replication_pending_bytes", "Key and value bytes of the changes the peer has not applied."),
		sinceContact: d("xregion_replication_last_contact_seconds", "Seconds since the peer last answered."),
		shipped:      d("xregion_replication_applied_records_total", "Records this process applied on the peer."),
		conflicts:    d("xregion_replication_conflicts_total", "Lost updates recorded on the peer by what this process shipped."),
		up:           d("xregion_replication_peer_up", "1 while the peer answers, 0 while its last call failed."),
	}
}

// Describe implements prometheus.Collector.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.rpo, c.pending, c.pendingBytes, c.sinceContact, c.shipped, c.conflicts, c.up} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	lags, err := c.r.Lag(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.rpo, errors.Join(errors.New("measure lag"), err))
		return
	}
	now := c.clock.Now()
	for _, l := range lags {
		peer := string(l.Peer)
		up := 1.0
		if l.Err != nil {
			up = 0
		}
		for _, m := range []struct {
			d *prometheus.Desc
			t prometheus.ValueType
			v float64
		}{
			{c.rpo, prometheus.GaugeValue, l.RPO.Seconds()},
			{c.pending, prometheus.GaugeValue, float64(l.Pending)},
			{c.pendingBytes, prometheus.GaugeValue, float64(l.PendingBytes)},
			{c.sinceContact, prometheus.GaugeValue, l.SinceContact(now).Seconds()},
			{c.shipped, prometheus.CounterValue, float64(l.Shipped)},
			{c.conflicts, prometheus.CounterValue, float64(l.Conflicts)},
			{c.up, prometheus.GaugeValue, up},
		} {
			ch <- prometheus.MustNewConstMetric(m.d, m.t, m.v, c.tier, peer)
		}
	}
}
