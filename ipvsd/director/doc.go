// Package director is ipvsd's core: it turns a configuration and the
// health of the real servers into the desired IPVS table, and converges
// the kernel's table to it through package reconcile.
//
// A Director is given its configuration with Apply (at start and at each
// reload) and runs its loop with Run. Its checks run elsewhere (a
// check.Scheduler, behind the Checker interface); each change of their
// health makes the director recompute the desired table (the policies,
// quorum and hysteresis, the sorry server, alpha, admin states), and a
// sync (one read, one plan, one batch) writes the difference, at most
// once per sync interval. What must survive a restart (the services
// owned, the API's changes, admin states) is kept in a Store.
//
// Status, Plan, SetAdmin, PutVirtualServer, DeleteVirtualServer and
// RevertVirtualServer serve the API; Liveness serves /healthz and the
// systemd watchdog.
package director
