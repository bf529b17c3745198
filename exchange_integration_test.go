//go:build integration && linux

package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvs-go/ipvs"
)

// What users meet on a real kernel: a daemon with CAP_NET_ADMIN alone,
// deadlines on large tables, Close while calls run, a module reloaded
// under a live client, and a read-modify-write of every field.

// runHelper runs this test binary as a helper in mode, inside ns, with
// the credentials given.
func runHelper(t *testing.T, ns *netNS, mode string, attr *syscall.SysProcAttr) (string, error) {
	t.Helper()
	var out []byte
	var err error
	must(t, ns.in(func() error {
		cmd := exec.Command("/proc/self/exe", "-test.run=^$")
		cmd.Env = append(os.Environ(), "IPVS_HELPER="+mode)
		cmd.SysProcAttr = attr
		out, err = cmd.CombinedOutput()
		return nil
	}))
	return string(out), err
}

// TestKernelCapNetAdminOnly runs the client as uid 65534 with only
// CAP_NET_ADMIN, then with no capability: ipvsadm works in the first
// case, and so must the client, which never enters its own namespace.
func TestKernelCapNetAdminOnly(t *testing.T) {
	ns := newNetNS(t)
	nobody := &syscall.Credential{Uid: 65534, Gid: 65534}
	out, err := runHelper(t, ns, "capnetadmin", &syscall.SysProcAttr{Credential: nobody, AmbientCaps: []uintptr{12}}) // CAP_NET_ADMIN
	t.Logf("CAP_NET_ADMIN only:\n%s", out)
	if err != nil {
		t.Fatalf("with CAP_NET_ADMIN alone: %v", err)
	}
	// ipvsadm agrees on what the helper made (its dumps skip services
	// while other namespaces are torn down).
	eventually(t, "ipvsadm lists every service the helper made", func() bool {
		return strings.Count(ns.sh("ipvsadm -Ln"), "TCP  10.77.") == nsServices
	})
	out, err = runHelper(t, ns, "nocap", &syscall.SysProcAttr{Credential: nobody})
	t.Logf("no capability:\n%s", out)
	if err != nil {
		t.Fatalf("without capabilities: %v", err)
	}
}

// bigTable fills a namespace with n services, through one batch.
func bigTable(t *testing.T, c *ipvs.Client, n int) {
	t.Helper()
	var b ipvs.Batch
	for i := range n {
		b.CreateService(ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, 30, byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr"})
	}
	if _, err := c.Apply(ctxT(t), &b); err != nil {
		t.Fatal(err)
	}
}

// TestKernelDeadlineOnLargeTable: the kernel builds each dump chunk in
// the recvmsg that asks for it, so a dump never waits; its context must
// end it all the same.
func TestKernelDeadlineOnLargeTable(t *testing.T) {
	_, c := newClient(t)
	bigTable(t, c, 10000)
	full, err := c.Services(ctxT(t))
	must(t, err)
	if len(full) != 10000 {
		t.Fatalf("%d services, want 10000", len(full))
	}
	complete := 0
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%4)*time.Millisecond)
		got, err := c.Services(ctx)
		cancel()
		switch {
		case err == nil && len(got) == 10000:
			complete++
		case !errors.Is(err, context.DeadlineExceeded):
			t.Fatalf("deadline of %dms: %d services, %v", i%4, len(got), err)
		}
	}
	// A whole dump of 10000 services takes far longer than 3ms here.
	if complete != 0 {
		t.Errorf("%d of 20 dumps with a deadline of at most 3ms returned the whole table", complete)
	}
	// The client still works after all those abandoned dumps.
	got, err := c.Services(ctxT(t))
	if err != nil || len(got) != 10000 {
		t.Fatalf("after the deadlines: %d services, %v", len(got), err)
	}
}

// TestKernelCloseDuringCalls closes a client while a dump reads and
// another call waits for its socket.
func TestKernelCloseDuringCalls(t *testing.T) {
	ns, c := newClient(t)
	bigTable(t, c, 5000)
	errs := make(chan error, 4)
	for range 4 {
		go func() { _, err := c.Services(context.Background()); errs <- err }()
	}
	time.Sleep(5 * time.Millisecond)
	must(t, c.Close())
	for range 4 {
		if err := <-errs; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("a call in flight at Close: %v, want nil or net.ErrClosed", err)
		}
	}
	if _, err := c.Services(context.Background()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("a call after Close: %v", err)
	}
	// The namespace's table is untouched, and a new client reads it.
	got, err := ns.client().Services(ctxT(t))
	if err != nil || len(got) != 5000 {
		t.Fatalf("a new client: %d services, %v", len(got), err)
	}
}

// unloadIPVS removes ip_vs and every module that uses it; the namespaces
// of earlier tests may hold them for a moment after they are closed.
func unloadIPVS(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		mods, _ := os.ReadFile("/proc/modules")
		var users []string
		loaded := false
		for _, line := range strings.Split(string(mods), "\n") {
			name, _, _ := strings.Cut(line, " ")
			switch {
			case strings.HasPrefix(name, "ip_vs_"):
				users = append(users, name)
			case name == "ip_vs":
				loaded = true
			}
		}
		if !loaded {
			return
		}
		out, err := exec.Command("rmmod", append(users, "ip_vs")...).CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rmmod: %v: %s", err, out)
		}
	}
}

// TestKernelModuleReload reloads ip_vs under a live client: the family
// gets a new ID, and the client must find it by itself.
func TestKernelModuleReload(t *testing.T) {
	if _, err := os.Stat("/sys/module/ip_vs/initstate"); err != nil {
		t.Skip("ip_vs is built in: it can not be reloaded")
	}
	ns, c := newClient(t)
	ctx := ctxT(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	must(t, c.CreateService(ctx, svc))
	must(t, c.Flush(ctx))
	before := familyID(t)
	unloadIPVS(t)
	if out, err := exec.Command("modprobe", "ip_vs").CombinedOutput(); err != nil {
		t.Fatalf("modprobe ip_vs: %v: %s", err, out)
	}
	after := familyID(t)
	t.Logf("family ID %d before the reload, %d after", before, after)
	// The same client, not a new one.
	must(t, c.CreateService(ctx, svc))
	got, err := c.Services(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("after the reload: %v, %v", got, err)
	}
	var b ipvs.Batch
	b.CreateDestination(svc, ipvs.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 80, Weight: 1})
	if _, err := c.Apply(ctx, &b); err != nil {
		t.Fatalf("a batch after the reload: %v", err)
	}
	if out := ns.sh("ipvsadm -Ln"); !strings.Contains(out, "10.0.0.2:80") {
		t.Fatalf("ipvsadm does not see the destination:\n%s", out)
	}
}

// familyID reads the IPVS family's ID as the controller reports it.
func familyID(t *testing.T) uint16 {
	t.Helper()
	raw := newRawIPVS(t, newNetNS(t))
	return raw.f.ID
}

// TestKernelRoundTripEveryField reads a table with every kind of field
// set, writes every object back as read, and reads it again: nothing may
// change, including a non-contiguous netmask that ipvsadm -M can set.
func TestKernelRoundTripEveryField(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	ns.sh("ip link add sync0 type dummy && ip link set sync0 up")
	tcp, udp6, fwm, sip := fixtureServices()
	odd := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.8"), Port: 443, Scheduler: "wlc",
		Flags: ipvs.FlagPersistent | ipvs.FlagOnePacket, Timeout: ipvs.MaxPersistenceTimeout, Netmask: ipvs.IPv4Mask([4]byte{255, 0, 255, 0})}
	for _, s := range []ipvs.Service{tcp, udp6, fwm, sip, odd} {
		must(t, c.CreateService(ctx, s))
	}
	dests := map[*ipvs.Service][]ipvs.Destination{
		&tcp: {
			{Address: netip.MustParseAddr("10.0.1.1"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 3, UpperThreshold: 100, LowerThreshold: 10},
			{Address: netip.MustParseAddr("10.0.1.2"), Port: 80, Forward: ipvs.ForwardTunnel, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum, Weight: 1},
			{Address: netip.MustParseAddr("10.0.1.3"), Port: 80, Forward: ipvs.ForwardTunnel, TunnelType: ipvs.TunnelGRE, TunnelFlags: ipvs.TunnelRemoteChecksum, Weight: 0},
			{Address: netip.MustParseAddr("2001:db8::3"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 2},
		},
		&udp6: {{Address: netip.MustParseAddr("2001:db8::2"), Port: 53, Forward: ipvs.ForwardDirectRoute, Weight: 5}},
		&odd:  {{Address: netip.MustParseAddr("10.0.1.4"), Forward: ipvs.ForwardDirectRoute, Weight: 1}},
	}
	for s, ds := range dests {
		for _, d := range ds {
			must(t, c.CreateDestination(ctx, *s, d))
		}
	}
	must(t, c.SetTimeouts(ctx, ipvs.Timeouts{TCP: ipvs.MaxTimeout, TCPFin: 7 * time.Second, UDP: 11 * time.Second}))
	vs := roundTrip(t, c)
	// The kernel keeps what the client sent, limits included.
	for _, v := range vs {
		if v.Address == odd.Address && (v.Netmask != odd.Netmask || v.Timeout != ipvs.MaxPersistenceTimeout) {
			t.Errorf("read %s with netmask %s and timeout %s, want %s and %s", v.Service, v.Netmask, v.Timeout, odd.Netmask, ipvs.MaxPersistenceTimeout)
		}
		if v.Address == odd.Address && (len(v.Destinations) != 1 || v.Destinations[0].Port != odd.Port) {
			t.Errorf("a destination without a port: %v, want the service's port %d", v.Destinations, odd.Port)
		}
	}
	// A sync daemon excludes mixed-family destinations: without them, the
	// daemons' fields make the same round trip.
	must(t, c.RemoveDestination(ctx, tcp, ipvs.Destination{Address: netip.MustParseAddr("2001:db8::3"), Port: 80}))
	must(t, c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "sync0", SyncID: 9, Group: netip.MustParseAddr("239.1.2.3"), Port: 9000, TTL: 3}))
	must(t, c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "sync0", SyncID: 300, MaxLength: 1000, Group: netip.MustParseAddr("ff02::1:3")}))
	roundTrip(t, c)
}

// roundTrip reads the table, the daemons and the timeouts, writes every
// object back exactly as read, and checks that a second read finds the
// same. It returns the first read.
func roundTrip(t *testing.T, c *ipvs.Client) []ipvs.VirtualServer {
	t.Helper()
	ctx := ctxT(t)
	read := func() ([]ipvs.VirtualServer, []ipvs.Daemon, ipvs.Timeouts) {
		vs, err := c.VirtualServers(ctx)
		must(t, err)
		d, err := c.Daemons(ctx)
		must(t, err)
		to, err := c.Timeouts(ctx)
		must(t, err)
		return vs, d, to
	}
	vs, daemons, timeouts := read()
	for _, v := range vs {
		must(t, c.UpdateService(ctx, v.Service))
		for _, d := range v.Destinations {
			must(t, c.UpdateDestination(ctx, v.Service, d))
		}
	}
	for _, d := range daemons {
		must(t, c.StopDaemon(ctx, d.State))
		must(t, c.StartDaemon(ctx, d))
	}
	must(t, c.SetTimeouts(ctx, timeouts))
	vs2, daemons2, timeouts2 := read()
	addrs := addrCmp
	ignore := cmpopts.IgnoreFields(ipvs.Service{}, "Stats")
	ignoreD := cmpopts.IgnoreFields(ipvs.Destination{}, "Stats", "ActiveConnections", "InactiveConnections", "PersistentConnections")
	sortVS := cmpopts.SortSlices(func(a, b ipvs.VirtualServer) bool { return a.Service.String() < b.Service.String() })
	sortD := cmpopts.SortSlices(func(a, b ipvs.Destination) bool { return a.String() < b.String() })
	if diff := cmp.Diff(vs, vs2, ignore, ignoreD, sortVS, sortD, addrs, cmp.AllowUnexported(ipvs.Netmask{})); diff != "" {
		t.Errorf("the table changed when written back as read (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(daemons, daemons2, addrs); diff != "" {
		t.Errorf("daemons changed (-before +after):\n%s", diff)
	}
	if timeouts != timeouts2 {
		t.Errorf("timeouts changed: %+v, then %+v", timeouts, timeouts2)
	}
	return vs
}

// TestKernelSilentChanges pins why the client refuses long persistence
// timeouts: the kernel accepts them and keeps seconds × HZ in 32 bits, so
// it reads back another value (Debian's kernels run at 250 Hz).
func TestKernelSilentChanges(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	raw := newRawIPVS(t, ns)
	for i, secs := range []uint32{17179870, 1<<32 - 1} {
		port := uint16(100 + i)
		persistent := bytesAttr(7, []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
		must(t, raw.do(cmdNewService, nest(1, u16Attr(1, 2), u16Attr(2, 6), bytesAttr(3, addrBytes("10.0.0.1")), be16Attr(4, port),
			strAttr(6, "rr"), persistent, u32Attr(8, secs), bytesAttr(9, []byte{0xff, 0xff, 0xff, 0xff}))))
		svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: port}
		got, err := c.Service(ctx, svc)
		must(t, err)
		t.Logf("persistence timeout %d s read back as %d s", secs, got.Timeout/time.Second)
		if got.Timeout == time.Duration(secs)*time.Second {
			t.Errorf("the kernel kept %d s intact; the client's limit may be too strict", secs)
		}
		svc.Scheduler, svc.Flags, svc.Timeout = "rr", ipvs.FlagPersistent, time.Duration(secs)*time.Second
		var ie *ipvs.InvalidError
		if err := c.UpdateService(ctx, svc); !errors.As(err, &ie) || !strings.Contains(err.Error(), fmt.Sprint(secs)) {
			t.Errorf("timeout %d s: %v, want a refusal naming the value", secs, err)
		}
	}
}
