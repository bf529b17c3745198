package director

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/reconcile"
)

// PlanReport is a plan that is not applied: the writes a sync would
// make, each with the director's reason.
type PlanReport struct {
	Changes []PlannedChange `json:"changes"`
	// Draining are the real servers that would stay at weight 0 until
	// their connections end.
	Draining []string `json:"draining,omitempty"`
	// Advisories name kernel settings that work against the plan.
	Advisories []string `json:"advisories,omitempty"`
}

// PlannedChange is one write of a plan.
type PlannedChange struct {
	// Change is the write, as reconcile writes it: what, and how the
	// table differs.
	Change string `json:"change"`
	// Why is the director's reason, such as "down: http check: status
	// 503; drain".
	Why string `json:"why,omitempty"`
}

// String returns the plan a change a line, each followed by its reason
// in brackets, then the draining real servers and the advisories as
// comments; "" for an empty plan.
func (p *PlanReport) String() string {
	var b strings.Builder
	for _, c := range p.Changes {
		b.WriteString(c.Change)
		if c.Why != "" {
			fmt.Fprintf(&b, " [%s]", c.Why)
		}
		b.WriteByte('\n')
	}
	for _, s := range p.Draining {
		fmt.Fprintf(&b, "# draining %s\n", s)
	}
	for _, s := range p.Advisories {
		fmt.Fprintf(&b, "# advisory: %s\n", s)
	}
	return b.String()
}

// Plan returns what a sync would write now, without writing: with cfg
// nil, for the configuration in force; else for cfg, as if it were
// reloaded, with the changes made through the API over it. Real servers
// whose checks have not spoken keep the weight the table has, as at
// start-up.
func (d *Director) Plan(ctx context.Context, cfg *config.Config) (*PlanReport, error) {
	d.mu.Lock()
	seeded := d.seeded
	d.mu.Unlock()
	var current []ipvs.VirtualServer
	if !seeded {
		var err error
		if current, err = d.client.VirtualServers(ctx); err != nil {
			return nil, fmt.Errorf("reading the table: %w", err)
		}
	}
	desiredTable, reasons, owned, err := d.hypothesis(cfg, current)
	if err != nil {
		return nil, err
	}
	opts := reconcile.Options{
		Owns:  func(s ipvs.Service) bool { _, ok := owned[s.String()]; return ok },
		Drain: func(s ipvs.Service) reconcile.DrainPolicy { return owned[s.String()] },
	}
	plan, err := reconcile.NewPlan(ctx, d.client, desiredTable, opts)
	if err != nil {
		return nil, err
	}
	out := &PlanReport{Changes: []PlannedChange{}}
	for _, c := range plan.Changes() {
		pc := PlannedChange{Change: c.String()}
		switch c.Kind {
		case reconcile.KindCreateService, reconcile.KindUpdateService:
			pc.Why = reasons[c.Service.String()]
		case reconcile.KindRemoveService:
			pc.Why = "no longer configured"
		default:
			pc.Why = reasons[c.Service.String()+" "+addrPort(c.Destination).String()]
			if pc.Why == "" {
				pc.Why = "not configured"
			}
		}
		out.Changes = append(out.Changes, pc)
	}
	for _, dr := range plan.Draining() {
		out.Draining = append(out.Draining, fmt.Sprintf("%s of %s: %d active, %d inactive connections",
			dr.Destination, dr.Service, dr.Destination.ActiveConnections, dr.Destination.InactiveConnections))
	}
	for _, a := range plan.Advisories() {
		out.Advisories = append(out.Advisories, a.String())
	}
	return out, nil
}

// hypothesis computes the desired table for cfg (nil: the one in force)
// without recording anything, with the reasons of each virtual server
// ("SERVICE") and real server ("SERVICE ADDRESS:PORT"), and the services
// that would be owned with the policy of each. A table, read before the
// first sync, stands for what is known from before.
func (d *Director) hypothesis(cfg *config.Config, table []ipvs.VirtualServer) ([]ipvs.VirtualServer, map[string]string, map[string]reconcile.DrainPolicy, error) {
	statuses := map[check.Key]check.Status{}
	for _, st := range d.checks.Statuses() {
		statuses[st.Key] = st
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if cfg == nil {
		cfg = d.cfg
	}
	if cfg == nil {
		return nil, nil, nil, fmt.Errorf("no configuration in force yet")
	}
	node := cfg.Director.Node
	if node == "" {
		node, _ = os.Hostname()
	}
	st := d.store.snapshot()
	set, _, err := compose(cfg, st, node)
	if err != nil {
		return nil, nil, nil, err
	}
	prior := d.prior
	if !d.seeded {
		rts := make([]*vsRuntime, len(set))
		for i, c := range set {
			rts[i] = &vsRuntime{cfg: c.vs, id: c.vs.Service().String()}
		}
		prior = priorFrom(table, rts)
	}
	owned := map[string]reconcile.DrainPolicy{}
	for id, p := range *d.owned.Load() {
		owned[id] = p
	}
	var out []ipvs.VirtualServer
	reasons := map[string]string{}
	for _, c := range set {
		vs := c.vs
		name, id := vs.DisplayName(), vs.Service().String()
		owned[id] = drainPolicyOf(vs.FailurePolicy())
		bs := vs.Backends()
		hs, admins := make([]health, len(bs)), make([]AdminState, len(bs))
		for i, b := range bs {
			keys := make([]check.Key, len(b.Checks))
			for j, def := range b.Checks {
				keys[j] = def.Key()
			}
			hs[i] = combine(keys, statuses)
			admins[i] = st.Admin[name][addrPort(b.Destination).String()]
		}
		quorumWas := true
		if rt := d.byName[name]; rt != nil && rt.id == id {
			quorumWas = rt.quorumUp
		}
		res := desire(vs, hs, admins, quorumWas, prior[id])
		reasons[id] = "virtual server " + name
		for i, b := range bs {
			reasons[id+" "+addrPort(b.Destination).String()] = res.backends[i].reason
		}
		if sorry, ok := vs.Sorry(); ok && res.sorry != nil {
			reasons[id+" "+addrPort(sorry).String()] = "sorry server: " + res.sorry.reason
		}
		out = append(out, res.vs)
	}
	return out, reasons, owned, nil
}
