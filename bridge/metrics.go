package bridge

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the bridge's Prometheus collectors. Register a Metrics with
// your registry and hand it to New through WithMetrics; several bridges may
// share one. Names follow MirrorMaker 2's where it has one (record-count,
// byte-rate, record-age-ms, replication-latency-ms), with Prometheus's
// underscores. Every series carries the source and target cluster names
// ("from", "to"); per-partition series also "topic" and "partition". A
// Metrics is safe for concurrent use.
type Metrics struct {
	records     *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	byteRate    *prometheus.GaugeVec
	recordAge   *prometheus.HistogramVec
	latency     *prometheus.HistogramVec
	lag         *prometheus.GaugeVec
	oldest      *prometheus.GaugeVec
	rpo         *prometheus.GaugeVec
	paused      *prometheus.GaugeVec
	dedupe      *prometheus.CounterVec
	echoes      *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	failures    *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	assigned    *prometheus.GaugeVec
}

// msBuckets span a loopback round trip to a backlog of several minutes.
var msBuckets = []float64{1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000}

// NewMetrics creates the collectors, unregistered.
func NewMetrics() *Metrics {
	part := []string{"from", "to", "topic", "partition"}
	topic := []string{"from", "to", "topic"}
	link := []string{"from", "to"}
	const ns, sub = "xregion", "bridge"
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels []string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	histogram := func(name, help string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help,
			Buckets: msBuckets}, topic)
	}
	return &Metrics{
		records:     counter("record_count", "Messages published to the target (MirrorMaker 2's record-count).", part),
		bytes:       counter("bytes_total", "Bytes of keys and values published to the target.", part),
		byteRate:    gauge("byte_rate", "Bytes of keys and values published per second over the last lag interval (MirrorMaker 2's byte-rate).", part),
		recordAge:   histogram("record_age_ms", "Age of each message when the bridge read it from the source, from its timestamp (MirrorMaker 2's record-age-ms)."),
		latency:     histogram("replication_latency_ms", "Time from each message's timestamp until the target acknowledged it (MirrorMaker 2's replication-latency-ms)."),
		lag:         gauge("records_lag", "Messages in the source partition not yet bridged, measured every lag interval even when idle.", part),
		oldest:      gauge("oldest_unbridged_age_seconds", "Age of the oldest message of the partition not yet bridged; 0 when none is waiting.", part),
		rpo:         gauge("rpo_seconds", "Live RPO for messaging: age of the oldest source message not yet in the target, over the partitions this bridge holds.", link),
		paused:      gauge("partition_paused", "1 while the partition is paused (failing for longer than PauseAfter) or stopped (a refused message and no dead-letter topic).", part),
		dedupe:      counter("dedupe_hits_total", "Messages not published because the target already held them (after a restart, a rebalance or a publish that timed out).", part),
		echoes:      counter("echo_suppressed_total", "Messages not published because they had already been in the target cluster.", part),
		deadLetters: counter("dead_letters_total", "Messages the target refused for good, sent to the dead-letter topic.", part),
		failures:    counter("errors_total", "Failed requests, by operation (fetch, publish, scan, commit, dead-letter).", append(append([]string(nil), part...), "op")),
		skipped:     counter("skipped_total", "Messages the source deleted (retention) before the bridge read them: lost to the target.", part),
		assigned:    gauge("assigned_partitions", "Source partitions this bridge process holds.", link),
	}
}

func (m *Metrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.records, m.bytes, m.byteRate, m.recordAge, m.latency, m.lag, m.oldest, m.rpo,
		m.paused, m.dedupe, m.echoes, m.deadLetters, m.failures, m.skipped, m.assigned}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all() {
		c.Collect(ch)
	}
}

// partMetrics are one partition's series, resolved once so the data path
// does no label lookups. The zero value (no Metrics) records nothing.
type partMetrics struct {
	m                           *Metrics
	labels                      []string
	records, bytes              prometheus.Counter
	dedupe, echoes, deadLetters prometheus.Counter
	skipped                     prometheus.Counter
	byteRate, lag, oldest       prometheus.Gauge
	paused                      prometheus.Gauge
	recordAge, latency          prometheus.Observer
}

func (m *Metrics) partition(from, to, topic string, p int) partMetrics {
	if m == nil {
		return partMetrics{}
	}
	l := []string{from, to, topic, strconv.Itoa(p)}
	return partMetrics{
		m: m, labels: l,
		records: m.records.WithLabelValues(l...), bytes: m.bytes.WithLabelValues(l...),
		dedupe: m.dedupe.WithLabelValues(l...), echoes: m.echoes.WithLabelValues(l...),
		deadLetters: m.deadLetters.WithLabelValues(l...), skipped: m.skipped.WithLabelValues(l...),
		byteRate: m.byteRate.WithLabelValues(l...), lag: m.lag.WithLabelValues(l...),
		oldest: m.oldest.WithLabelValues(l...), paused: m.paused.WithLabelValues(l...),
		recordAge: m.recordAge.WithLabelValues(from, to, topic), latency: m.latency.WithLabelValues(from, to, topic),
	}
}

func (pm *partMetrics) add(c prometheus.Counter, n int) {
	if c != nil && n > 0 {
		c.Add(float64(n))
	}
}

func (pm *partMetrics) set(g prometheus.Gauge, v float64) {
	if g != nil {
		g.Set(v)
	}
}

func (pm *partMetrics) observe(o prometheus.Observer, ms float64) {
	if o != nil {
		o.Observe(max(ms, 0))
	}
}

func (pm *partMetrics) failure(op string) {
	if pm.m != nil {
		pm.m.failures.WithLabelValues(append(append([]string(nil), pm.labels...), op)...).Inc()
	}
}

// forget drops the partition's gauges when this process no longer holds it,
// so its last values do not linger as if they were current.
func (pm *partMetrics) forget() {
	if pm.m == nil {
		return
	}
	for _, g := range []*prometheus.GaugeVec{pm.m.byteRate, pm.m.lag, pm.m.oldest, pm.m.paused} {
		g.DeleteLabelValues(pm.labels...)
	}
}

func (m *Metrics) setLink(from, to string, assigned int, rpoSeconds float64) {
	if m == nil {
		return
	}
	m.assigned.WithLabelValues(from, to).Set(float64(assigned))
	m.rpo.WithLabelValues(from, to).Set(rpoSeconds)
}
