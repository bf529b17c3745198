// Package metrics holds ipvsd's Prometheus metrics: of its checks, its
// syncs, its reloads and the virtual and real servers it directs, beside
// the table's own metrics from package collector, on one endpoint.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ipvs-go/ipvs/exporter/collector"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/director"
)

// Metrics are ipvsd's metrics. It is a check.Observer and a
// director.Observer: give it to the check scheduler and the director,
// which tell it of each probe and each sync.
type Metrics struct {
	reg *prometheus.Registry
	// table are the table's collectors, kept out of reg: see Handler.
	table []*collector.Collector

	checkDuration *prometheus.HistogramVec
	syncDuration  prometheus.Histogram
	syncs         *prometheus.CounterVec
	changes       *prometheus.CounterVec
	writeErrors   *prometheus.CounterVec
	drift         prometheus.Counter
	planSize      prometheus.Gauge
	reloads       *prometheus.CounterVec
	reloadOK      prometheus.Gauge
	reloadTime    prometheus.Gauge
}

// New returns ipvsd's metrics, with the process's and Go's own, and the
// table's from the collectors given (as collector.New makes them), which
// Handler writes itself rather than through the registry. Watch adds
// those of a director and its checks.
func New(table ...*collector.Collector) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.checkDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "ipvsd_check_duration_seconds", Help: "How long each attempt of a check took.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"check", "kind"})
	m.syncDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "ipvsd_sync_duration_seconds", Help: "How long each sync took: one read of the table, a plan, and its writes in one batch.",
		Buckets: prometheus.ExponentialBuckets(.001, 2.5, 12),
	})
	m.syncs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipvsd_syncs_total", Help: "Syncs, by result: ok, or error when the table could not be read or planned.",
	}, []string{"result"})
	m.changes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipvsd_changes_total", Help: "Writes to the table planned, by kind (\"create destination\", ...), those refused included.",
	}, []string{"kind"})
	m.writeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipvsd_write_errors_total", Help: "Writes the kernel refused, by kind; each is tried again at the next sync.",
	}, []string{"kind"})
	m.drift = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ipvsd_drift_repairs_total", Help: "Syncs that repaired a table someone else had changed.",
	})
	m.planSize = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ipvsd_last_plan_changes", Help: "Writes of the last sync's plan.",
	})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ipvsd_config_reloads_total", Help: "Reloads of the configuration, by result: ok, or refused (the running configuration stays).",
	}, []string{"result"})
	m.reloadOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ipvsd_config_last_reload_successful", Help: "1 if the last reload was put in force, 0 if it was refused.",
	})
	m.reloadTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ipvsd_config_last_reload_success_timestamp_seconds", Help: "When the configuration in force was loaded.",
	})
	m.reg.MustRegister(m.checkDuration, m.syncDuration, m.syncs, m.changes, m.writeErrors, m.drift, m.planSize,
		m.reloads, m.reloadOK, m.reloadTime,
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector())
	m.table = table
	m.syncs.WithLabelValues("ok")
	m.syncs.WithLabelValues("error")
	return m
}

// Watch adds the metrics of what the director d and its checks hold at
// each scrape: each check's state, transitions and last success, each
// virtual and real server's state and weights.
func (m *Metrics) Watch(d *director.Director, checks interface{ Statuses() []check.Status }) {
	m.reg.MustRegister(&stateCollector{d: d, checks: checks})
}

// Registry returns the registry of the metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Probed records an attempt of a check (check.Observer).
func (m *Metrics) Probed(key check.Key, kind check.Kind, r check.Result) {
	m.checkDuration.WithLabelValues(string(key), string(kind)).Observe(r.Latency.Seconds())
}

// Changed is called when a check changes health (check.Observer); the
// states are read at each scrape instead.
func (m *Metrics) Changed(check.Status) {}

// Synced records a sync (director.Observer).
func (m *Metrics) Synced(r director.SyncReport) {
	m.syncDuration.Observe(r.Duration.Seconds())
	if r.Err != nil {
		m.syncs.WithLabelValues("error").Inc()
		return
	}
	m.syncs.WithLabelValues("ok").Inc()
	m.planSize.Set(float64(len(r.Changes)))
	for _, c := range r.Changes {
		m.changes.WithLabelValues(c.Kind.String()).Inc()
	}
	for _, f := range r.Failed {
		m.writeErrors.WithLabelValues(f.Change.Kind.String()).Inc()
	}
	if r.Drift {
		m.drift.Inc()
	}
}

// Reloaded records a reload of the configuration, put in force or not.
func (m *Metrics) Reloaded(ok bool) {
	if !ok {
		m.reloads.WithLabelValues("refused").Inc()
		m.reloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
	m.reloadOK.Set(1)
	m.reloadTime.SetToCurrentTime()
}
