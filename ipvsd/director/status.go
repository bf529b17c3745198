package director

import (
	"net/netip"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// Status is the state of the director and of every virtual server and
// real server in force, as the API shows it.
type Status struct {
	Node string `json:"node"`
	// Config is where the configuration in force was read from.
	Config string `json:"config"`
	// StateFile is where what must survive a restart is kept: the
	// changes made through the API, the admin states, the services
	// owned; "" when kept in memory only.
	StateFile      string                `json:"state_file"`
	Sync           SyncStatus            `json:"sync"`
	VirtualServers []VirtualServerStatus `json:"virtual_servers"`
}

// SyncStatus is what the director's syncs did.
type SyncStatus struct {
	Interval  string    `json:"interval"`
	Last      time.Time `json:"last"`
	Duration  string    `json:"duration"`
	LastWrite time.Time `json:"last_write"`
	Syncs     uint64    `json:"syncs"`
	// Writes counts the syncs that wrote to the table, and Changes the
	// writes the kernel applied.
	Writes  uint64 `json:"writes"`
	Changes uint64 `json:"changes"`
	// Pending says the desired table changed since the last sync that
	// applied whole: the next sync writes.
	Pending bool `json:"pending"`
	// Error is why the last sync could not read or plan.
	Error string `json:"error,omitempty"`
	// FailedWrites are the writes of the last sync the kernel refused;
	// the next sync tries them again.
	FailedWrites []string `json:"failed_writes,omitempty"`
}

// VirtualServerStatus is the state of a virtual server.
type VirtualServerStatus struct {
	Name string `json:"name"`
	// Source is "file", or "api" for one changed through the API.
	Source     string             `json:"source"`
	Service    string             `json:"service"`
	Scheduler  string             `json:"scheduler"`
	Quorum     uint32             `json:"quorum"`
	QuorumUp   bool               `json:"quorum_up"`
	LiveWeight uint64             `json:"live_weight"`
	Policy     string             `json:"on_failure"`
	Real       []RealServerStatus `json:"real_servers"`
	Sorry      *RealServerStatus  `json:"sorry_server,omitempty"`
}

// RealServerStatus is the state of a real server.
type RealServerStatus struct {
	Address string `json:"address"`
	// Weight is the configured weight.
	Weight uint32 `json:"weight"`
	// Desired is the weight in the desired table; nil when out of it.
	Desired *uint32 `json:"desired_weight"`
	// Actual is the real server as the table holds it, when the table
	// was read for the status; nil when it is not in the table.
	Actual *TableEntry `json:"actual,omitempty"`
	Health string      `json:"health"`
	Admin  AdminState  `json:"admin"`
	// Reason says why it is desired as it is.
	Reason string        `json:"reason"`
	Checks []CheckStatus `json:"checks,omitempty"`
}

// TableEntry is a destination as the table holds it.
type TableEntry struct {
	Weight                uint32 `json:"weight"`
	ActiveConnections     uint32 `json:"active_connections"`
	InactiveConnections   uint32 `json:"inactive_connections"`
	PersistentConnections uint32 `json:"persistent_connections"`
}

// CheckStatus is the state of one check of a real server.
type CheckStatus struct {
	// Name says what the check probes, in a few words.
	Name   string `json:"name"`
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	Health string `json:"health"`
	// LastTime, LastLatency and LastError are of the last attempt.
	LastTime       time.Time `json:"last_time"`
	LastLatency    float64   `json:"last_latency_seconds"`
	LastError      string    `json:"last_error,omitempty"`
	LastSuccess    time.Time `json:"last_success"`
	Transitions    uint64    `json:"transitions"`
	LastTransition time.Time `json:"last_transition"`
}

// Status returns the state of the director. With table, the table as
// just read, each real server's Actual is filled in.
func (d *Director) Status(table []ipvs.VirtualServer) Status {
	statuses, actual := d.statusInputs(table)
	d.mu.Lock()
	defer d.mu.Unlock()
	out := Status{Node: d.node, StateFile: d.store.Path(), VirtualServers: []VirtualServerStatus{}}
	if d.cfg == nil {
		return out
	}
	ls := d.lastSync
	out.Config = d.cfg.Source
	out.Sync = SyncStatus{Interval: d.cfg.Director.SyncEvery().String(), Last: ls.at, Duration: ls.duration.String(), LastWrite: ls.lastWrite,
		Syncs: ls.syncs, Writes: ls.writes, Changes: ls.changes, Pending: d.pending, Error: ls.err, FailedWrites: ls.failed}
	for _, rt := range d.vss {
		out.VirtualServers = append(out.VirtualServers, rt.status(statuses, actual[rt.id]))
	}
	return out
}

// VirtualServerStatus returns the state of the virtual server named
// name, as Status would, and whether there is one.
func (d *Director) VirtualServerStatus(name string, table []ipvs.VirtualServer) (VirtualServerStatus, bool) {
	actual := byService(table)
	d.mu.Lock()
	defer d.mu.Unlock()
	rt := d.byName[name]
	if rt == nil {
		return VirtualServerStatus{}, false
	}
	return rt.status(d.statusesOf(rt.keys), actual[rt.id]), true
}

// ServiceOf returns the service of the virtual server named name, and
// whether there is one: an API that shows one virtual server reads its
// part of the table alone.
func (d *Director) ServiceOf(name string) (ipvs.Service, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	rt := d.byName[name]
	if rt == nil {
		return ipvs.Service{}, false
	}
	return rt.cfg.Service(), true
}

// statusesOf returns the statuses of the checks keys, asked one by one
// of a Checker that can (a *check.Scheduler does), so that the status of
// one virtual server does not copy those of every check; d.mu is held.
func (d *Director) statusesOf(keys [][]check.Key) map[check.Key]check.Status {
	one, ok := d.checks.(interface {
		Status(k check.Key) (check.Status, bool)
	})
	if !ok {
		statuses, _ := d.statusInputs(nil)
		return statuses
	}
	out := map[check.Key]check.Status{}
	for _, ks := range keys {
		for _, k := range ks {
			if st, ok := one.Status(k); ok {
				out[k] = st
			}
		}
	}
	return out
}

// statusInputs returns the checks' statuses, and the destinations of
// table by service.
func (d *Director) statusInputs(table []ipvs.VirtualServer) (map[check.Key]check.Status, map[string]map[netip.AddrPort]ipvs.Destination) {
	statuses := map[check.Key]check.Status{}
	for _, st := range d.checks.Statuses() {
		statuses[st.Key] = st
	}
	return statuses, byService(table)
}

// byService returns the destinations of table by service identity, then
// address and port.
func byService(table []ipvs.VirtualServer) map[string]map[netip.AddrPort]ipvs.Destination {
	actual := map[string]map[netip.AddrPort]ipvs.Destination{}
	for _, vs := range table {
		m := make(map[netip.AddrPort]ipvs.Destination, len(vs.Destinations))
		for _, dst := range vs.Destinations {
			m[addrPort(dst)] = dst
		}
		actual[vs.Service.String()] = m
	}
	return actual
}

// status returns the state of the virtual server, with its real
// servers as the table holds them in in; d.mu is held.
func (rt *vsRuntime) status(statuses map[check.Key]check.Status, in map[netip.AddrPort]ipvs.Destination) VirtualServerStatus {
	svc := rt.cfg.Service()
	vs := VirtualServerStatus{Name: rt.name, Source: rt.source, Service: rt.id, Scheduler: svc.Scheduler,
		Quorum: rt.cfg.QuorumWeight(), QuorumUp: rt.quorumUp, LiveWeight: rt.last.live, Policy: rt.cfg.FailurePolicy().String(),
		Real: []RealServerStatus{}}
	for i, b := range rt.cfg.Backends() {
		rs := RealServerStatus{Address: addrPort(b.Destination).String(), Weight: b.Destination.Weight, Admin: rt.admins[i], Health: "unknown"}
		if rt.refreshed {
			rs.Health = rt.healths[i].state.String()
		}
		// A virtual server that Apply just replaced carries its health
		// but has no decision until the next refresh.
		if i < len(rt.last.backends) {
			dec := rt.last.backends[i]
			rs.Reason = dec.reason
			if dec.wanted {
				w := dec.weight
				rs.Desired = &w
			}
		}
		rs.Actual = entry(in, b.Destination)
		for _, k := range rt.keys[i] {
			cs := checkStatus(k, statuses)
			cs.Name = rt.names[k]
			rs.Checks = append(rs.Checks, cs)
		}
		vs.Real = append(vs.Real, rs)
	}
	if sorry, ok := rt.cfg.Sorry(); ok {
		rs := RealServerStatus{Address: addrPort(sorry).String(), Weight: sorry.Weight, Health: "unchecked", Actual: entry(in, sorry)}
		if dec := rt.last.sorry; dec != nil {
			rs.Reason = dec.reason
			if dec.wanted {
				w := dec.weight
				rs.Desired = &w
			}
		}
		vs.Sorry = &rs
	}
	return vs
}

// entry returns dst as the table m holds it, or nil.
func entry(m map[netip.AddrPort]ipvs.Destination, dst ipvs.Destination) *TableEntry {
	a, ok := m[addrPort(dst)]
	if !ok {
		return nil
	}
	return &TableEntry{Weight: a.Weight, ActiveConnections: a.ActiveConnections, InactiveConnections: a.InactiveConnections,
		PersistentConnections: a.PersistentConnections}
}

// checkStatus returns the state of the check k.
func checkStatus(k check.Key, statuses map[check.Key]check.Status) CheckStatus {
	st, ok := statuses[k]
	if !ok {
		return CheckStatus{Key: string(k), Health: check.Unknown.String()}
	}
	cs := CheckStatus{Key: string(k), Kind: string(st.Kind), Health: st.Health.String(), LastTime: st.Last.Time,
		LastLatency: st.Last.Latency.Seconds(), LastSuccess: st.LastSuccess, Transitions: st.Transitions, LastTransition: st.LastTransition}
	if st.Last.Err != nil {
		cs.LastError = st.Last.Err.Error()
	}
	return cs
}

// Liveness says whether the director's loops turn: the check scheduler's
// and its own, and no sync is stuck. It returns "" when they do, else
// what is stalled.
func (d *Director) Liveness(now time.Time) string {
	const stall = 10 * time.Second
	if t := d.checks.LastTick(); t.IsZero() || now.Sub(t) > stall {
		return "the check scheduler has not run for " + since(now, t)
	}
	if t := time.Unix(0, d.loopTick.Load()); d.loopTick.Load() == 0 || now.Sub(t) > stall+heartbeat {
		return "the sync loop has not run for " + since(now, t)
	}
	d.mu.Lock()
	interval := time.Duration(0)
	if d.cfg != nil {
		interval = d.cfg.Director.SyncEvery()
	}
	d.mu.Unlock()
	if n := d.syncing.Load(); n != 0 && now.Sub(time.Unix(0, n)) > max(30*time.Second, 3*interval) {
		return "a sync has run for " + now.Sub(time.Unix(0, n)).Round(time.Second).String()
	}
	return ""
}

// since says how long ago t was, or "ever" for the zero time.
func since(now, t time.Time) string {
	if t.IsZero() || t.Unix() == 0 {
		return "ever"
	}
	return now.Sub(t).Round(time.Second).String()
}
