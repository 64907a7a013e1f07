package health

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a Detector's Prometheus collectors; several Detectors may
// share one, their series told apart by the "target" label. A nil *Metrics
// records nothing. A Metrics is safe for concurrent use.
//
//	xregion_health_target_up{target}               1 while the verdict is up, 0 while down
//	xregion_health_probes_total{target,result}     probes, by result: success, failure, timeout
//	xregion_health_transitions_total{target,to}    verdict changes, to "up" or "down"
type Metrics struct {
	up          *prometheus.GaugeVec
	probes      *prometheus.CounterVec
	transitions *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg, unless reg
// is nil. It fails if reg refuses one (the names are taken).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	const ns, sub = "xregion", "health"
	m := &Metrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "target_up",
			Help: "The detector's verdict on the target: 1 up, 0 down."}, []string{"target"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "probes_total",
			Help: "Probes of the target, by result: success, failure or timeout."}, []string{"target", "result"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "transitions_total",
			Help: "Changes of the detector's verdict, by the verdict reached: up or down."}, []string{"target", "to"}),
	}
	if reg != nil {
		var errs []error
		for _, c := range m.Collectors() {
			errs = append(errs, reg.Register(c))
		}
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("health: register metrics: %w", err)
		}
	}
	return m, nil
}

// Collectors returns the collectors, to register them elsewhere.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.up, m.probes, m.transitions}
}

func (m *Metrics) probed(target, result string) {
	if m != nil {
		m.probes.WithLabelValues(target, result).Inc()
	}
}

func (m *Metrics) verdict(target string, up bool) {
	if m != nil {
		v := 0.0
		if up {
			v = 1
		}
		m.up.WithLabelValues(target).Set(v)
	}
}

func (m *Metrics) transition(target string, up bool) {
	if m != nil {
		to := "down"
		if up {
			to = "up"
		}
		m.transitions.WithLabelValues(target, to).Inc()
	}
}
