package director

import (
	"context"
	"slices"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/reconcile"
)

// shutdown takes the virtual servers with omega out of the table, after
// running their down hooks; the others stay as they are, so that a
// restart drops no connection.
func (d *Director) shutdown() {
	d.mu.Lock()
	if d.cfg == nil {
		d.mu.Unlock()
		return
	}
	var gone []*vsRuntime
	for _, rt := range d.vss {
		if rt.cfg.Omega {
			gone = append(gone, rt)
		}
	}
	timeout := d.cfg.Director.HookDeadline()
	d.mu.Unlock()
	if len(gone) == 0 {
		return
	}
	for _, rt := range gone {
		for i, b := range rt.cfg.Backends() {
			if b.NotifyDown != nil && rt.last.backends[i].live {
				d.hooks.Run(Hook{Event: "notify_down", Command: *b.NotifyDown, Timeout: timeout, Env: []string{
					"IPVSD_EVENT=notify_down", "IPVSD_VIRTUAL_SERVER=" + rt.name, "IPVSD_SERVICE=" + rt.id, "IPVSD_REAL_SERVER=" + addrPort(b.Destination).String()}})
			}
		}
		if rt.cfg.QuorumDown != nil && rt.quorumUp {
			d.hooks.Run(Hook{Event: "quorum_down", Command: *rt.cfg.QuorumDown, Timeout: timeout, Env: []string{
				"IPVSD_EVENT=quorum_down", "IPVSD_VIRTUAL_SERVER=" + rt.name, "IPVSD_SERVICE=" + rt.id}})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	// Only the omega services are owned by this last plan, which desires
	// none: they are removed, and nothing else is written.
	omega := map[string]bool{}
	for _, rt := range gone {
		omega[rt.id] = true
	}
	plan, err := reconcile.NewPlan(ctx, d.client, nil, reconcile.Options{Owns: func(s ipvs.Service) bool { return omega[s.String()] }})
	if err == nil {
		_, err = plan.Apply(ctx, d.client)
	}
	if err != nil {
		d.log.Error("removing the omega virtual servers", "err", err)
		return
	}
	for _, rt := range gone {
		d.log.Info("removed at shutdown (omega)", "virtual_server", rt.name)
	}
	st := d.store.snapshot()
	ids := slices.DeleteFunc(slices.Clone(st.Owned), func(id string) bool { return omega[id] })
	if err := d.store.update(func(s *storeData) { s.Owned = ids }); err != nil {
		d.log.Error("recording the services owned", "err", err)
	}
}
