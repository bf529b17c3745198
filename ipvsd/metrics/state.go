package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/director"
)

// stateCollector makes, at each scrape, the metrics of what the director
// and its checks hold now: each check's state, transitions and last
// success, and each virtual and real server's state and weights.
type stateCollector struct {
	d      *director.Director
	checks interface{ Statuses() []check.Status }
}

var (
	checkState = prometheus.NewDesc("ipvsd_check_state",
		"1 for the check's state: up, down, or unknown before its first round ends.", []string{"check", "kind", "state"}, nil)
	checkTransitions = prometheus.NewDesc("ipvsd_check_transitions_total",
		"Changes of the check's state, the first one out of unknown included.", []string{"check", "kind"}, nil)
	checkLastSuccess = prometheus.NewDesc("ipvsd_check_last_success_timestamp_seconds",
		"When the last attempt of the check that passed started.", []string{"check", "kind"}, nil)
	realUp = prometheus.NewDesc("ipvsd_real_server_up",
		"1 if the real server's checks pass (or it has none), 0 if one fails, absent while they are unknown.",
		[]string{"virtual_server", "real_server"}, nil)
	realDesired = prometheus.NewDesc("ipvsd_real_server_desired_weight",
		"The real server's weight in the desired table; absent when out of it.", []string{"virtual_server", "real_server"}, nil)
	realAdmin = prometheus.NewDesc("ipvsd_real_server_admin_state",
		"1 for the admin state set through the API: enabled, drained or disabled.", []string{"virtual_server", "real_server", "state"}, nil)
	vsQuorum = prometheus.NewDesc("ipvsd_virtual_server_quorum_up",
		"1 while the virtual server's live weight holds its quorum.", []string{"virtual_server"}, nil)
	vsLive = prometheus.NewDesc("ipvsd_virtual_server_live_weight",
		"The total weight of the virtual server's live real servers.", []string{"virtual_server"}, nil)
	syncPending = prometheus.NewDesc("ipvsd_sync_pending",
		"1 while the desired table differs from the one the last sync applied whole.", nil, nil)
	lastSync = prometheus.NewDesc("ipvsd_last_sync_timestamp_seconds", "When the last sync started.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{checkState, checkTransitions, checkLastSuccess, realUp, realDesired, realAdmin, vsQuorum, vsLive, syncPending, lastSync} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.checks.Statuses() {
		key, kind := string(st.Key), string(st.Kind)
		for _, h := range []check.Health{check.Up, check.Down, check.Unknown} {
			ch <- prometheus.MustNewConstMetric(checkState, prometheus.GaugeValue, one(st.Health == h), key, kind, h.String())
		}
		ch <- prometheus.MustNewConstMetric(checkTransitions, prometheus.CounterValue, float64(st.Transitions), key, kind)
		if !st.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(checkLastSuccess, prometheus.GaugeValue, seconds(st.LastSuccess), key, kind)
		}
	}
	s := c.d.Status(nil)
	ch <- prometheus.MustNewConstMetric(syncPending, prometheus.GaugeValue, one(s.Sync.Pending))
	if !s.Sync.Last.IsZero() {
		ch <- prometheus.MustNewConstMetric(lastSync, prometheus.GaugeValue, seconds(s.Sync.Last))
	}
	for _, vs := range s.VirtualServers {
		ch <- prometheus.MustNewConstMetric(vsQuorum, prometheus.GaugeValue, one(vs.QuorumUp), vs.Name)
		ch <- prometheus.MustNewConstMetric(vsLive, prometheus.GaugeValue, float64(vs.LiveWeight), vs.Name)
		for _, rs := range vs.Real {
			switch rs.Health {
			case "up", "down":
				ch <- prometheus.MustNewConstMetric(realUp, prometheus.GaugeValue, one(rs.Health == "up"), vs.Name, rs.Address)
			}
			if rs.Desired != nil {
				ch <- prometheus.MustNewConstMetric(realDesired, prometheus.GaugeValue, float64(*rs.Desired), vs.Name, rs.Address)
			}
			for _, a := range []director.AdminState{director.AdminEnabled, director.AdminDrained, director.AdminDisabled} {
				ch <- prometheus.MustNewConstMetric(realAdmin, prometheus.GaugeValue, one(rs.Admin == a), vs.Name, rs.Address, a.String())
			}
		}
	}
}

func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
