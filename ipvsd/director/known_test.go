package director

import (
	"context"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// changeSync runs the sync that a change brings between the periodic
// ones, 2 s after the last (the rig's interval is 1 s), with its reports.
func (r *rig) changeSync() []SyncReport {
	r.t.Helper()
	var got []SyncReport
	r.d.observer = observerFunc(func(s SyncReport) { got = append(got, s) })
	r.clock = r.clock.Add(2 * time.Second)
	r.d.mu.Lock()
	r.d.lastSync.read = r.clock.Add(-time.Second / 2) // as if a periodic sync had just read
	r.d.mu.Unlock()
	r.d.syncOnce(context.Background())
	return got
}

// noReads makes every read of the table fail.
func (r *rig) noReads() {
	for _, op := range []ipvstest.Op{ipvstest.OpGetServices, ipvstest.OpGetDestinations} {
		r.fake.Inject(ipvstest.Fault{Op: op, Errno: syscall.EIO})
	}
}

// TestChangeWrittenWithoutRead: a failure between the periodic syncs is
// written from the table as the last sync left it, without reading it;
// it drains all the same, and the periodic sync, which reads, removes it
// once its connections end.
func TestChangeWrittenWithoutRead(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	r.checks.setHealth(t, "10.0.0.2:8080", check.Down, -1)
	r.noReads()
	reps := r.changeSync()
	if len(reps) != 1 || reps[0].Err != nil || !slices.Equal(changes(reps[0]), []string{
		"drain destination 10.0.0.2:8080 of tcp 192.0.2.10:80: not desired; weight 1 -> 0 until its connections end"}) {
		t.Fatalf("reports %+v", reps)
	}
	r.fake.ClearFaults()
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/0 10.0.0.3:8080/1")
	if rep := r.sync(); rep.Drift || len(rep.Changes) != 1 || rep.Changes[0].Kind.String() != "remove destination" {
		t.Fatalf("the periodic sync: drift %v, changes %q", rep.Drift, changes(rep))
	}
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.3:8080/1")
}

// TestRefusedWriteReads: a write from the table as known that the
// kernel refuses is followed at once by a sync that reads the table.
func TestRefusedWriteReads(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	r.checks.setHealth(t, "10.0.0.2:8080", check.Down, -1)
	r.fake.Inject(ipvstest.Fault{Op: ipvstest.OpUpdateDestination, Destination: "10.0.0.2:8080", Times: 1, Errno: syscall.ENOMEM})
	reps := r.changeSync()
	if len(reps) != 2 || len(reps[0].Failed) != 1 || len(reps[1].Failed) != 0 || len(reps[1].Changes) != 1 {
		t.Fatalf("reports %+v", reps)
	}
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.3:8080/1") // read: no connections, removed
	if st := r.d.Status(nil).Sync; st.Pending || st.Error != "" || len(st.FailedWrites) != 0 {
		t.Errorf("status %+v", st)
	}
}

// TestDriftBetweenReads: what someone else changes between the periodic
// syncs is not seen by a write from the table as known; the next
// periodic sync reads it and repairs it.
func TestDriftBetweenReads(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80}
	if err := r.client.RemoveDestination(context.Background(), svc, ipvs.Destination{Address: netip.MustParseAddr("10.0.0.1"), Port: 8080}); err != nil {
		t.Fatal(err)
	}
	r.checks.setHealth(t, "10.0.0.3:8080", check.Down, -1)
	if reps := r.changeSync(); len(reps) != 1 || len(reps[0].Changes) != 1 || reps[0].Drift {
		t.Fatalf("reports %+v", reps)
	}
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.2:8080/1 10.0.0.3:8080/0")
	if rep := r.sync(); !rep.Drift {
		t.Errorf("the periodic sync: drift %v, changes %q", rep.Drift, changes(rep))
	}
	r.wantTable("tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/1")
}

// TestPeriodicSyncReads: a change when the periodic sync is due is
// written by a sync that reads the table; one after a failed sync too.
func TestPeriodicSyncReads(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	r.checks.setHealth(t, "10.0.0.2:8080", check.Down, -1)
	r.noReads()
	r.clock = r.clock.Add(2 * time.Second)
	r.d.syncOnce(context.Background())
	if st := r.d.Status(nil).Sync; st.Error == "" {
		t.Fatalf("a periodic sync did not read: %+v", st)
	}
	r.fake.ClearFaults()
	r.checks.setHealth(t, "10.0.0.3:8080", check.Down, -1)
	r.noReads()
	if reps := r.changeSync(); len(reps) != 1 || reps[0].Err == nil {
		t.Fatalf("after a failed sync, one did not read: %+v", reps)
	}
}
