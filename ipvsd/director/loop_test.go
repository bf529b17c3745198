package director

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvstest"
)

const webYAML = `
director: {sync_interval: 1s}
virtual_servers:
  - name: web
    address: 192.0.2.10
    port: 80
    lvs_sched: wrr
    checks: [{type: tcp}]
    real_servers:
      - {address: 10.0.0.1, port: 8080, weight: 2}
      - {address: 10.0.0.2, port: 8080}
      - {address: 10.0.0.3, port: 8080}
`

// TestSyncConverges: a first sync creates the table; a second reads once
// and writes nothing.
func TestSyncConverges(t *testing.T) {
	r := newRig(t, webYAML)
	rep := r.sync()
	if len(rep.Changes) != 4 {
		t.Fatalf("changes %q", changes(rep))
	}
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/1 10.0.0.3:8080/1")
	before := r.fake.Requests()
	if rep := r.sync(); len(rep.Changes) != 0 {
		t.Fatalf("second sync wrote %q", changes(rep))
	}
	// One read: the service dump and one destination dump.
	if got := r.fake.Requests() - before; got != 2 {
		t.Errorf("a converged sync made %d requests, want 2", got)
	}
}

// TestFailureDrains: a real server that fails drains (weight 0 while it
// has connections, then removed); back up, it gets its weight again.
func TestFailureDrains(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80}
	dst := ipvs.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 8080}
	if err := r.fake.SetConnections(svc, dst, 3, 0, 0); err != nil {
		t.Fatal(err)
	}
	r.checks.setHealth(t, "10.0.0.2:8080", check.Down, -1)
	r.sync()
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/0 10.0.0.3:8080/1")
	if got := r.hooks.take(); len(got) != 0 {
		t.Errorf("hooks %q without any configured", got)
	}
	r.sync()
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/0 10.0.0.3:8080/1")
	if err := r.fake.SetConnections(svc, dst, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	r.sync()
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.3:8080/1")
	r.checks.setHealth(t, "10.0.0.2:8080", check.Up, -1)
	r.sync()
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/1 10.0.0.3:8080/1")
}

// TestRefusedWriteRetried: a write the kernel refuses is reported (with
// its change, in the status), the others are applied, and the next sync
// makes it.
func TestRefusedWriteRetried(t *testing.T) {
	r := newRig(t, webYAML)
	r.fake.Inject(ipvstest.Fault{Op: ipvstest.OpCreateDestination, Destination: "10.0.0.3:8080", Times: 1, Errno: syscall.ENOMEM})
	rep := r.sync()
	if len(rep.Failed) != 1 || !errors.Is(rep.Failed[0], syscall.ENOMEM) || rep.Failed[0].Change.Destination.String() != "10.0.0.3:8080" {
		t.Fatalf("failed %v", rep.Failed)
	}
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/1")
	st := r.d.Status(nil)
	if len(st.Sync.FailedWrites) != 1 || !strings.Contains(st.Sync.FailedWrites[0], "10.0.0.3:8080") || !st.Sync.Pending {
		t.Errorf("status %+v", st.Sync)
	}
	rep = r.sync()
	if len(rep.Failed) != 0 || len(rep.Changes) != 1 {
		t.Fatalf("retry: %q %v", changes(rep), rep.Failed)
	}
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/1 10.0.0.3:8080/1")
	if st := r.d.Status(nil); len(st.Sync.FailedWrites) != 0 || st.Sync.Pending {
		t.Errorf("status after the retry %+v", st.Sync)
	}
}

// TestDriftRepaired: what someone else changes of an owned service is
// put back at the next sync, and reported as drift; a foreign service
// is never written.
func TestDriftRepaired(t *testing.T) {
	r := newRig(t, webYAML)
	ctx := context.Background()
	foreign := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.99"), Port: 22, Scheduler: "rr"}
	if err := r.client.CreateService(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	if err := r.client.CreateDestination(ctx, foreign, ipvs.Destination{Address: netip.MustParseAddr("10.9.9.9"), Port: 22, Weight: 7}); err != nil {
		t.Fatal(err)
	}
	r.sync()
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80}
	// ipvsadm -d, then ipvsadm -e.
	if err := r.client.RemoveDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("10.0.0.1"), Port: 8080}); err != nil {
		t.Fatal(err)
	}
	if err := r.client.UpdateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 8080, Weight: 9}); err != nil {
		t.Fatal(err)
	}
	rep := r.sync()
	if !rep.Drift || len(rep.Changes) != 2 {
		t.Fatalf("drift %v, changes %q", rep.Drift, changes(rep))
	}
	r.wantTable(`
tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/1 10.0.0.3:8080/1
tcp 192.0.2.99:22: 10.9.9.9:22/7`)
	// Even the whole service removed (ipvsadm -D).
	if err := r.client.RemoveService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if rep := r.sync(); !rep.Drift {
		t.Errorf("not reported as drift: %q", changes(rep))
	}
	r.wantTable(`
tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/1 10.0.0.3:8080/1
tcp 192.0.2.99:22: 10.9.9.9:22/7`)
}

// TestRestartLeavesTable: a restarted director whose checks have not
// spoken writes nothing, whatever the health it had; a drain goes on.
func TestRestartLeavesTable(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80}
	if err := r.fake.SetConnections(svc, ipvs.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 8080}, 5, 0, 0); err != nil {
		t.Fatal(err)
	}
	r.checks.setHealth(t, "10.0.0.2:8080", check.Down, -1)
	r.sync()
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/0 10.0.0.3:8080/1")

	r.restart()
	r.apply(webYAML)
	if rep := r.sync(); len(rep.Changes) != 0 {
		t.Fatalf("a restart wrote %q", changes(rep))
	}
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/0 10.0.0.3:8080/1")
	// The checks speak: the drained one is still down, the rest up.
	r.checks.setHealth(t, "10.0.0.1:8080", check.Up, -1)
	r.checks.setHealth(t, "10.0.0.3:8080", check.Up, -1)
	if rep := r.sync(); len(rep.Changes) != 0 {
		t.Fatalf("wrote %q", changes(rep))
	}
	r.checks.setHealth(t, "10.0.0.2:8080", check.Down, -1)
	r.sync()
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/0 10.0.0.3:8080/1")
}

// TestReloadAppliesDifference: a reload that changes one real server
// makes one write, and the checks of the others keep their state.
func TestReloadAppliesDifference(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	r.checks.setHealth(t, "10.0.0.1:8080", check.Up, -1)
	r.apply(strings.Replace(webYAML, "{address: 10.0.0.3, port: 8080}", "{address: 10.0.0.4, port: 8080}", 1))
	if _, ok := r.checks.st[check.Definition{Kind: check.KindTCP, Target: netip.MustParseAddrPort("10.0.0.1:8080"), Retry: 1, Warmup: check.DefaultInterval}.Key()]; !ok {
		t.Errorf("the unchanged check lost its state: %v", r.checks.st)
	}
	rep := r.sync()
	want := []string{
		"create destination 10.0.0.4:8080 of tcp 192.0.2.10:80: not in the table (masq, weight 1)",
		"remove destination 10.0.0.3:8080 of tcp 192.0.2.10:80: not desired; no connections left",
	}
	if got := changes(rep); !slices.Equal(got, want) {
		t.Fatalf("reload wrote %q, want %q", got, want)
	}
}

// TestRefusedReload: a configuration that can not be put in force
// changes nothing.
func TestRefusedReload(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	r.checks.setErr = errors.New("no such program")
	if err := r.d.Apply(mustConfig(t, strings.Replace(webYAML, "weight: 2", "weight: 5", 1))); err == nil {
		t.Fatal("no error")
	}
	r.checks.setErr = nil
	if rep := r.sync(); len(rep.Changes) != 0 {
		t.Fatalf("a refused reload wrote %q", changes(rep))
	}
}

// TestOwnership: a virtual server taken out of the configuration is
// removed, even by a director restarted in between; once removed, it is
// no longer owned, and one made again by someone else is left alone.
func TestOwnership(t *testing.T) {
	two := webYAML + `
  - {name: api, address: 192.0.2.11, port: 443, real_servers: [{address: 10.0.1.1}]}
`
	r := newRig(t, two)
	r.sync()
	r.restart()
	r.apply(webYAML)
	rep := r.sync()
	if got := changes(rep); len(got) != 1 || !strings.HasPrefix(got[0], "remove service tcp 192.0.2.11:443") {
		t.Fatalf("changes %q", got)
	}
	if owned := r.store.snapshot().Owned; !slices.Equal(owned, []string{"tcp 192.0.2.10:80"}) {
		t.Errorf("owned %q", owned)
	}
	ctx := context.Background()
	if err := r.client.CreateService(ctx, ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.11"), Port: 443, Scheduler: "rr"}); err != nil {
		t.Fatal(err)
	}
	if rep := r.sync(); len(rep.Changes) != 0 {
		t.Fatalf("wrote %q to a service it no longer owns", changes(rep))
	}
}

// TestAPIChangesSurviveRestart: virtual servers and admin states changed
// through the API are kept in the store, and in force after a restart.
func TestAPIChangesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	f := ipvstest.NewFake()
	client := f.Client(t)
	open := func() (*Director, *fakeChecks) {
		s, err := OpenStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		c := newFakeChecks()
		d := New(Options{Client: client, Checks: c, Store: s})
		if err := d.Apply(mustConfig(t, webYAML)); err != nil {
			t.Fatal(err)
		}
		return d, c
	}
	d, _ := open()
	ctx := context.Background()
	d.syncOnce(ctx)
	if err := d.SetAdmin("web", "10.0.0.1:8080", AdminDrained); err != nil {
		t.Fatal(err)
	}
	if err := d.PutVirtualServer("dns", []byte("address: 192.0.2.53\nport: 53\nprotocol: UDP\nreal_servers: [{address: 10.0.2.1}]\n")); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAdmin("web", "10.9.9.9:1", AdminDrained); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown real server: %v", err)
	}
	d, checks := open()
	d.syncOnce(ctx)
	rig := &rig{t: t, fake: f}
	rig.wantTable(`
tcp 192.0.2.10:80: 10.0.0.1:8080/0 10.0.0.2:8080/1 10.0.0.3:8080/1
udp 192.0.2.53:53: 10.0.2.1:53/1`)
	if err := d.RevertVirtualServer("dns"); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAdmin("web", "10.0.0.1:8080", AdminEnabled); err != nil {
		t.Fatal(err)
	}
	// Undrained, it stays at weight 0 until its checks pass.
	d.syncOnce(ctx)
	rig.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/0 10.0.0.2:8080/1 10.0.0.3:8080/1")
	checks.setHealth(t, "10.0.0.1:8080", check.Up, -1)
	d.syncOnce(ctx)
	rig.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/1 10.0.0.3:8080/1")
	// A change whose identity is another's is refused, and changes
	// nothing.
	err := d.PutVirtualServer("other", []byte("address: 192.0.2.10\nport: 80\n"))
	if err == nil || !strings.Contains(err.Error(), "are both tcp 192.0.2.10:80") {
		t.Fatalf("%v", err)
	}
	if _, ok := d.Overrides()["other"]; ok {
		t.Error("a refused change was kept")
	}
}

// TestOmega: at shutdown, the virtual servers with omega are taken out
// of the table after their down hooks, and the others stay.
func TestOmega(t *testing.T) {
	r := newRig(t, webYAML+`
  - {name: api, address: 192.0.2.11, port: 443, omega: true, quorum_down: "true", real_servers: [{address: 10.0.1.1}]}
`)
	r.sync()
	r.d.shutdown()
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/1 10.0.0.3:8080/1")
	if got := r.hooks.take(); !slices.Equal(got, []string{"quorum_down api"}) {
		t.Errorf("hooks %q", got)
	}
	if owned := r.store.snapshot().Owned; !slices.Equal(owned, []string{"tcp 192.0.2.10:80"}) {
		t.Errorf("owned %q", owned)
	}
}

// TestStatusBetweenApplyAndRefresh: a status asked after Apply replaced
// a virtual server and before the loop refreshed it has its health and
// no decision yet, and does not panic.
func TestStatusBetweenApplyAndRefresh(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	r.apply(webYAML)
	st := r.d.Status(nil)
	if len(st.VirtualServers) == 0 || len(st.VirtualServers[0].Real) == 0 {
		t.Fatalf("status: %+v", st)
	}
}
