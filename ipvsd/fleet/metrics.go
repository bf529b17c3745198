package fleet

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// stats are the Source's counters.
type stats struct {
	fullReads    *prometheus.CounterVec
	events       prometheus.Counter
	statusWrites prometheus.Counter
}

func newStats() *stats {
	return &stats{
		fullReads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ipvsd_fleet_full_reads_total",
			Help: "Reads of the fleet's whole configuration, by reason: start, compacted (the revision the director had was), reset (another etcd).",
		}, []string{"reason"}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvsd_fleet_watch_events_total", Help: "Changes of the fleet's configuration keys heard through the watch.",
		}),
		statusWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ipvsd_fleet_status_writes_total", Help: "Writes of the director's state to etcd.",
		}),
	}
}

// Collectors returns the Source's metrics, to register beside the
// director's.
func (s *Source) Collectors() []prometheus.Collector {
	gauge := func(name, help string, value func(st Status) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return value(s.Status()) })
	}
	unix := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	}
	return []prometheus.Collector{
		s.stats.fullReads, s.stats.events, s.stats.statusWrites,
		gauge("ipvsd_fleet_etcd_up", "1 while etcd answers; 0 while the director runs on the last good configuration without it.",
			func(st Status) float64 { return b2f(st.Connected) }),
		gauge("ipvsd_fleet_etcd_last_contact_timestamp_seconds", "When etcd last answered the director.",
			func(st Status) float64 { return unix(st.LastContact) }),
		gauge("ipvsd_fleet_revision", "The revision of the fleet's configuration the director has read.",
			func(st Status) float64 { return float64(st.Revision) }),
		gauge("ipvsd_fleet_applied_revision", "The revision the director's table was last synced to whole.",
			func(st Status) float64 { return float64(st.Applied) }),
		gauge("ipvsd_fleet_invalid_keys", "Keys of the fleet's configuration refused; each keeps its last good value.",
			func(st Status) float64 { return float64(len(st.InvalidKeys)) }),
		gauge("ipvsd_fleet_apply_refused", "1 while the configuration of the last change is refused (the one before stays in force).",
			func(st Status) float64 { return b2f(st.ApplyError != "") }),
		gauge("ipvsd_fleet_virtual_servers", "Virtual servers of the fleet's configuration that select this director.",
			func(st Status) float64 { return float64(st.Selected) }),
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
