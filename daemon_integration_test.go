//go:build integration && linux

package ipvs_test

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

func TestKernelDaemons(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	ns.sh("ip link add sync0 type dummy && ip link set sync0 up && ip addr add 10.88.0.1/24 dev sync0")
	d, err := c.Daemons(ctx)
	if err != nil || len(d) != 0 {
		t.Fatalf("Daemons of a fresh namespace: %v, %v", d, err)
	}
	master := ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "sync0", SyncID: 7, MaxLength: 1000,
		Group: netip.MustParseAddr("239.1.2.3"), Port: 12345, TTL: 2}
	backup := ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "sync0", SyncID: 9,
		Group: netip.MustParseAddr("ff02::81"), Port: 8849, TTL: 1}
	must(t, c.StartDaemon(ctx, master))
	must(t, c.StartDaemon(ctx, backup))
	wantErr(t, c.StartDaemon(ctx, master), os.ErrExist, unix.EEXIST)
	got, err := c.Daemons(ctx)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("Daemons: %+v", got)
	}
	wantBackup := backup
	wantBackup.MaxLength = got[1].MaxLength // the kernel's default, from the MTU
	if diff := cmp.Diff([]ipvs.Daemon{master, wantBackup}, got, addrCmp); diff != "" {
		t.Fatalf("Daemons (-want +got):\n%s", diff)
	}
	t.Logf("backup's default max length: %d", got[1].MaxLength)
	must(t, c.StopDaemon(ctx, ipvs.DaemonMaster))
	must(t, c.StopDaemon(ctx, ipvs.DaemonBackup))
	wantErr(t, c.StopDaemon(ctx, ipvs.DaemonMaster), os.ErrNotExist, unix.ESRCH)

	// Defaults: group 224.0.0.81, port 8848, TTL 1.
	must(t, c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "sync0", SyncID: 1}))
	got, _ = c.Daemons(ctx)
	if len(got) != 1 || got[0].Group != netip.MustParseAddr("224.0.0.81") || got[0].Port != 8848 || got[0].TTL != 1 {
		t.Fatalf("defaults: %+v", got)
	}
	must(t, c.StopDaemon(ctx, ipvs.DaemonMaster))

	err = c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "nosuch0", SyncID: 1})
	wantErr(t, err, os.ErrNotExist, unix.ENODEV)
}

// TestKernelStopDaemonRace stops daemons right after starting them, which makes
// the kernel drop the ACK of DEL_DAEMON much of the time; StopDaemon must
// still report success, and the daemon must be gone.
func TestKernelStopDaemonRace(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	ns.sh("ip link add sync0 type dummy && ip link set sync0 up")
	// A stop that takes the client's grace period (250ms) got no ACK.
	noAck := 0
	for i := range 10 {
		for _, state := range []ipvs.DaemonState{ipvs.DaemonMaster, ipvs.DaemonBackup} {
			must(t, c.StartDaemon(ctx, ipvs.Daemon{State: state, Interface: "sync0", SyncID: uint32(i)}))
			start := time.Now()
			if err := c.StopDaemon(ctx, state); err != nil {
				t.Fatalf("round %d, %s: %v", i, state, err)
			}
			if time.Since(start) >= 200*time.Millisecond {
				noAck++
			}
		}
		if d, _ := c.Daemons(ctx); len(d) != 0 {
			t.Fatalf("round %d: daemons still run: %+v", i, d)
		}
	}
	t.Logf("%d of 20 stops right after a start got no ACK from the kernel", noAck)
}

// TestKernelConnSync: a backup daemon in the client namespace learns the
// director's connections, and lists them as synced.
func TestKernelConnSync(t *testing.T) {
	lab := newConnLab(t)
	lab.listen(t, 80)
	backup := lab.client.client()
	must(t, lab.c.StartDaemon(lab.ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "dir0", SyncID: 5}))
	must(t, backup.StartDaemon(lab.ctx, ipvs.Daemon{State: ipvs.DaemonBackup, Interface: linkOtherThanLo(t, lab.client), SyncID: 5}))
	open := dial(t, lab.client, "tcp", "10.99.1.1:80", 0)
	// The master sends an entry at its third incoming packet.
	for range 3 {
		if _, err := open.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
	}
	client := netip.MustParseAddrPort(open.LocalAddr().String())
	var learned ipvs.Connection
	eventually(t, "the backup's entry", func() bool {
		for c, err := range backup.Connections(lab.ctx, ipvs.ConnectionFilter{Service: labTCP}) {
			must(t, err)
			if c.Client == client {
				learned = c
				return true
			}
		}
		return false
	})
	(&connLab{ns: lab.client}).dumpTables(t, "sync-backup")
	if !learned.Synced || learned.Destination != netip.AddrPortFrom(labHere, 80) || learned.State != "ESTABLISHED" {
		t.Errorf("the backup lists %+v, want it synced, to %v, established", learned, labHere)
	}
	for c, err := range lab.c.Connections(lab.ctx, ipvs.ConnectionFilter{}) {
		must(t, err)
		if c.Synced {
			t.Errorf("the master lists %+v as synced", c)
		}
	}
}
