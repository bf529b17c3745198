package fleet

import (
	"slices"
	"time"
)

// maxListed bounds each list of a director's state (real servers down,
// errors, a plan's changes), so that its key stays small with ten
// thousand virtual servers; the rest are counted.
const maxListed = 1000

// DirectorState is what a director writes under PREFIX/directors/NODE,
// under its lease: the key leaves when the director dies.
type DirectorState struct {
	Node    string            `json:"node"`
	Labels  map[string]string `json:"labels,omitempty"`
	Version string            `json:"version,omitempty"`
	// Revision is the configuration's revision in force, and
	// AppliedRevision the one the table was last synced to whole, when.
	Revision        int64     `json:"revision"`
	InForceAt       time.Time `json:"in_force_at"`
	AppliedRevision int64     `json:"applied_revision"`
	AppliedAt       time.Time `json:"applied_at"`
	// VirtualServers is how many select this director.
	VirtualServers int `json:"virtual_servers"`
	// Plan is what the last sync that wrote changed.
	Plan *PlanRecord `json:"plan,omitempty"`
	// Health counts the real servers by health (up, down, unknown), and
	// Down and Unknown name those not up, as "VIRTUAL-SERVER/ADDRESS:PORT".
	Health  map[string]int `json:"health"`
	Down    []string       `json:"down,omitempty"`
	Unknown []string       `json:"unknown,omitempty"`
	// Errors are the keys refused, the configuration refused, the last
	// sync's errors and writes refused.
	Errors []string `json:"errors,omitempty"`
	// LastOutage is the last time the director could not reach etcd.
	LastOutage *Outage `json:"last_outage,omitempty"`
	// Truncated counts the names left out of the lists above.
	Truncated int       `json:"truncated,omitempty"`
	Updated   time.Time `json:"updated"`
}

// Outage is a time the director could not reach etcd.
type Outage struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Error is what it saw.
	Error string `json:"error,omitempty"`
}

// PlanRecord is what one sync wrote.
type PlanRecord struct {
	At       time.Time `json:"at"`
	Revision int64     `json:"revision"`
	Changes  []string  `json:"changes"`
	More     int       `json:"more,omitempty"`
}

// Status is the fleet's part of a director's status, as its API shows
// it.
type Status struct {
	Prefix    string   `json:"prefix"`
	Endpoints []string `json:"endpoints"`
	// Connected says whether etcd answers; Since is when that last
	// changed.
	Connected   bool      `json:"connected"`
	Since       time.Time `json:"since"`
	LastContact time.Time `json:"last_contact"`
	Error       string    `json:"error,omitempty"`
	// Revision is the revision of the configuration read; InForce the
	// one in force (they differ while an apply of several transactions
	// runs); Applied the one the table was last synced to whole.
	Revision int64 `json:"revision"`
	InForce  int64 `json:"in_force_revision"`
	Applied  int64 `json:"applied_revision"`
	// Held says an apply of several transactions is under way: its keys
	// come in force when it is done.
	Held bool `json:"held"`
	// Keys counts the virtual servers' keys read good, Selected those
	// that select this director.
	Keys     int `json:"keys"`
	Selected int `json:"selected"`
	// InvalidKeys are the keys refused; each keeps its last good value.
	InvalidKeys []KeyError `json:"invalid_keys,omitempty"`
	// ApplyError is why the configuration of the last change was
	// refused; the one before stays in force.
	ApplyError string `json:"apply_error,omitempty"`
	// CopyFile is where the local copy of the last good configuration
	// is kept.
	CopyFile string `json:"copy_file,omitempty"`
}

// Status returns the fleet's part of the director's status.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Prefix: s.opts.Layout.prefix, Endpoints: s.cli.Endpoints(), Connected: s.conn.up, Since: s.conn.since,
		LastContact: s.conn.lastContact, Error: s.conn.err, Revision: s.rev, InForce: s.inForce, Applied: s.applied,
		Held: s.held, Keys: len(s.keys.good), Selected: len(s.selected), ApplyError: s.applyErr, CopyFile: s.copyPath()}
	st.InvalidKeys = append(s.keys.errors(), s.conflicts...)
	return st
}

// directorState returns the state the director writes to etcd.
func (s *Source) directorState() DirectorState {
	var ds DirectorState
	if s.d != nil {
		status := s.d.Status(nil)
		ds.Health = map[string]int{}
		for _, vs := range status.VirtualServers {
			for _, rs := range vs.Real {
				ds.Health[rs.Health]++
				name := vs.Name + "/" + rs.Address
				switch rs.Health {
				case "down":
					ds.Down, ds.Truncated = appendBounded(ds.Down, name, ds.Truncated)
				case "unknown":
					ds.Unknown, ds.Truncated = appendBounded(ds.Unknown, name, ds.Truncated)
				}
			}
		}
		slices.Sort(ds.Down)
		slices.Sort(ds.Unknown)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ds.Node, ds.Labels, ds.Version = s.base.Node, s.base.Labels, s.opts.Version
	ds.Revision, ds.InForceAt, ds.AppliedRevision, ds.AppliedAt = s.inForce, s.inForceAt, s.applied, s.appliedAt
	ds.VirtualServers = len(s.selected)
	ds.Plan = s.lastPlan
	for _, e := range s.keys.errors() {
		ds.Errors, ds.Truncated = appendBounded(ds.Errors, "key refused: "+e.Error, ds.Truncated)
	}
	for _, e := range s.conflicts {
		ds.Errors, ds.Truncated = appendBounded(ds.Errors, "key refused: "+e.Key+": "+e.Error, ds.Truncated)
	}
	if s.applyErr != "" {
		ds.Errors = append(ds.Errors, "configuration refused: "+s.applyErr)
	}
	for _, e := range s.syncErrors {
		ds.Errors, ds.Truncated = appendBounded(ds.Errors, e, ds.Truncated)
	}
	return ds
}

func appendBounded(list []string, s string, dropped int) ([]string, int) {
	if len(list) >= maxListed {
		return list, dropped + 1
	}
	return append(list, s), dropped
}
