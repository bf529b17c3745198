package ipvstest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// checkResult says how err differs from want (see step.want), or "".
func checkResult(err, want error) string {
	var got syscall.Errno
	switch w := want.(type) {
	case nil:
		if err != nil {
			return fmt.Sprintf("got %v, want success", err)
		}
	case syscall.Errno:
		if !errors.As(err, &got) || got != w {
			return fmt.Sprintf("got %v, want errno %d (%v)", err, int(w), w)
		}
	default:
		if !errors.Is(err, want) {
			return fmt.Sprintf("got %v, want %v", err, want)
		}
	}
	return ""
}

// runRaw sends a raw step to the model and returns its error.
func runRaw(c *rawConn, r *rawRequest) error {
	rep := c.do(r.cmd, r.flags|nlmsg.FlagAck, r.body)
	if rep.errno != 0 {
		return rep.errno
	}
	return nil
}

func TestScenarioOnModel(t *testing.T) {
	f := NewFake()
	f.AddInterface("sync0", 1500)
	c, raw := f.Client(t), newRawConn(t, f)
	for i, s := range scenario() {
		var err error
		if s.raw != nil {
			err = runRaw(raw, s.raw)
		} else {
			err = s.do(t.Context(), c)
		}
		if d := checkResult(err, s.want); d != "" {
			t.Errorf("step %d %q: %s", i, s.name, d)
		}
	}
}

// TestModelTable checks what the table holds after writes whose effect
// the kernel was seen to have.
func TestModelTable(t *testing.T) {
	f := NewFake()
	raw := newRawConn(t, f)
	for _, r := range []*rawRequest{
		rawNewService(1, 0x1, 0, 0, nil),                   // flags under mask 0: none
		rawNewService(2, 0x80000000, ^uint32(0), 0, nil),   // unknown bits kept
		rawNewService(3, 0x1, ^uint32(0), 17179870, nil),   // wraps to 0
		rawNewService(4, 0x1, ^uint32(0), ^uint32(0), nil), // reads 17179868
		rawNewService(5, 0x1, ^uint32(0), 60, []byte{255, 0, 255, 0}),
	} {
		if err := runRaw(raw, r); err != nil {
			t.Fatal(err)
		}
	}
	hashed := ipvs.FlagHashed
	want := []struct {
		flags   ipvs.ServiceFlags
		timeout time.Duration
		mask    ipvs.Netmask
	}{
		{hashed, 0, ipvs.Netmask{}},
		{hashed | 0x80000000, 0, ipvs.Netmask{}},
		{hashed | ipvs.FlagPersistent, 0, ipvs.Netmask{}},
		{hashed | ipvs.FlagPersistent, 17179868 * time.Second, ipvs.Netmask{}},
		{hashed | ipvs.FlagPersistent, 60 * time.Second, ipvs.IPv4Mask([4]byte{255, 0, 255, 0})},
	}
	got := f.VirtualServers()
	if len(got) != len(want) {
		t.Fatalf("%d services, want %d", len(got), len(want))
	}
	for i, w := range want {
		if s := got[i].Service; s.Flags != w.flags || s.Timeout != w.timeout || s.Netmask != w.mask {
			t.Errorf("service %d: flags %v timeout %v netmask %v; want %v %v %v", i, s.Flags, s.Timeout, s.Netmask, w.flags, w.timeout, w.mask)
		}
	}
	// The client reads the same through the whole path.
	vs, err := f.Client(t).VirtualServers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i := range vs {
		if vs[i].Service != got[i].Service {
			t.Errorf("client read %+v, model holds %+v", vs[i].Service, got[i].Service)
		}
	}
}

// TestDumpChunks checks the kernel's chunking: a page's worth for a
// socket's first dump, then as much as its largest read allows.
func TestDumpChunks(t *testing.T) {
	f := NewFake()
	raw := newRawConn(t, f)
	for i := range 1000 {
		if err := runRaw(raw, rawNewService(uint16(i+1), 0, 0, 0, nil)); err != nil {
			t.Fatal(err)
		}
	}
	r := newRawConn(t, f).do(4, nlmsg.FlagDump, nil)
	// 11 services of 320 bytes, then 101 per 32 KiB chunk, then DONE.
	if len(r.msgs) != 1000 || r.dgram != 1+(1000-11+100)/101+1 {
		t.Errorf("%d services in %d datagrams, want 1000 in %d", len(r.msgs), r.dgram, 1+(1000-11+100)/101+1)
	}
	// GET_DEST of a missing service is an empty dump.
	if r := raw.do(8, nlmsg.FlagDump, rawSvc(sMissing).put); r.errno != 0 || len(r.msgs) != 0 || r.dgram != 1 {
		t.Errorf("dests of a missing service: %+v", r)
	}
}

func TestFaults(t *testing.T) {
	ctx := t.Context()
	f := NewFake()
	c := f.Client(t)
	must(t, c.CreateService(ctx, sTCP))

	f.Inject(Fault{Op: OpCreateDestination, Destination: dMasq.String(), Errno: syscall.ENOMEM, Times: 1})
	if err := c.CreateDestination(ctx, sTCP, dMasq); !errors.Is(err, syscall.ENOMEM) {
		t.Errorf("injected ENOMEM: got %v", err)
	}
	must(t, c.CreateDestination(ctx, sTCP, dMasq)) // the fault acted once

	// DEL_DAEMON that gets no answer: the client asks which daemons run.
	must(t, c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "lo", SyncID: 1}))
	f.Inject(Fault{Op: OpStopDaemon, Lose: true, Times: 1})
	must(t, c.StopDaemon(ctx, ipvs.DaemonMaster))
	if d := f.Daemons(); len(d) != 0 {
		t.Errorf("daemons after a stop without ACK: %v", d)
	}

	f.Inject(Fault{Op: OpGetServices, Interrupt: true, Times: 1})
	if _, err := c.Services(ctx); !errors.Is(err, ipvs.ErrDumpInterrupted) {
		t.Errorf("interrupted dump: got %v", err)
	}

	// A lost answer to a write: the call ends at its deadline.
	f.Inject(Fault{Op: OpRemoveService, Service: sTCP.String(), Lose: true})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.RemoveService(short, sTCP); err == nil {
		t.Error("a lost answer: no error")
	}
	if n := len(f.VirtualServers()); n != 0 {
		t.Errorf("the lost write was not applied: %d services", n)
	}
	f.ClearFaults()

	f.Inject(Fault{Op: OpInfo, Delay: 10 * time.Millisecond})
	if _, err := c.Info(ctx); err != nil {
		t.Errorf("delayed answer: %v", err)
	}
}

// TestReload checks that a client finds the family again after ip_vs is
// reloaded, as it must on the kernel.
func TestReload(t *testing.T) {
	f := NewFake()
	c := f.Client(t)
	must(t, c.CreateService(t.Context(), sTCP))
	f.Reload()
	if s, err := c.Services(t.Context()); err != nil || len(s) != 0 {
		t.Errorf("after reload: %v, %v", s, err)
	}
}

// TestConcurrent runs clients of one Fake at once, for the race detector.
func TestConcurrent(t *testing.T) {
	f := NewFake()
	c := f.Client(t)
	ctx := t.Context()
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			var err error
			for i := range 50 {
				s := with(sTCP, func(s *ipvs.Service) { s.Port = uint16(g*100 + i + 1) })
				if err = c.CreateService(ctx, s); err == nil {
					err = c.CreateDestination(ctx, s, dMasq)
				}
				if err == nil && i%10 == 0 {
					_, err = c.VirtualServers(ctx)
				}
				if err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if n := len(f.VirtualServers()); n != 400 {
		t.Errorf("%d services, want 400", n)
	}
}

// TestModelKernelVersion checks the one rule that differs in the matrix.
func TestModelKernelVersion(t *testing.T) {
	f := NewFake()
	c, raw := f.Client(t), newRawConn(t, f)
	must(t, c.CreateService(t.Context(), sTCP))
	upper := rawDest(5, destSpec{addr: "10.1.0.1", port: 80, uthresh: 1 << 31, tunType: -1})
	if err := runRaw(raw, upper); err != syscall.EINVAL {
		t.Errorf("upper threshold 2^31 on 7.2: %v, want EINVAL", err)
	}
	f.SetKernelVersion(5, 10)
	if err := runRaw(raw, upper); err != nil {
		t.Errorf("upper threshold 2^31 on 5.10: %v, want success", err)
	}
}

func TestSetConnections(t *testing.T) {
	f := NewFake()
	c := f.Client(t)
	must(t, c.CreateService(t.Context(), sTCP))
	must(t, c.CreateDestination(t.Context(), sTCP, dMasq))
	must(t, f.SetConnections(sTCP, dMasq, 3, 4, 5))
	if err := f.SetConnections(sTCP, with(dMasq, func(d *ipvs.Destination) { d.Address = netip.MustParseAddr("10.1.1.1") }), 1, 1, 1); err == nil {
		t.Error("SetConnections of a missing destination: no error")
	}
	d, err := c.Destinations(t.Context(), sTCP)
	if err != nil || len(d) != 1 || d[0].ActiveConnections != 3 || d[0].InactiveConnections != 4 || d[0].PersistentConnections != 5 {
		t.Errorf("destinations: %+v, %v", d, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFakeProcfs: a fake's client reads and writes the model's procfs,
// never the host's: its sysctls, as set and as the modelled kernel has
// them, and the connection table the test set.
func TestFakeProcfs(t *testing.T) {
	f := NewFake()
	c := f.Client(t)
	ctx := t.Context()
	s, err := c.Sysctls(ctx)
	if err != nil || s.ConnReuseMode != 1 || s.ExpireNodestConn || s.SyncThreshold != (ipvs.SyncThreshold{Threshold: 3, Period: 50}) {
		t.Fatalf("Sysctls = %+v, %v; want a fresh namespace's", s, err)
	}
	f.SetSysctl("conn_reuse_mode", "0")
	if err := c.SetSysctls(ctx, ipvs.SysctlChanges{ExpireNodestConn: new(true)}); err != nil {
		t.Fatal(err)
	}
	if s, err = c.Sysctls(ctx); err != nil || s.ConnReuseMode != 0 || !s.ExpireNodestConn {
		t.Errorf("after the writes: %+v, %v", s, err)
	}
	// A value out of range is refused, as an *ipvs.InvalidError, before
	// the valid one beside it is written.
	err = c.SetSysctls(ctx, ipvs.SysctlChanges{ConnReuseMode: new(2), DropEntry: new(4)})
	var inv *ipvs.InvalidError
	if !errors.As(err, &inv) || inv.Field != "sysctl drop_entry" || !errors.Is(err, os.ErrInvalid) {
		t.Errorf("drop_entry 4: %v, want an *ipvs.InvalidError about sysctl drop_entry", err)
	}
	if s, err = c.Sysctls(ctx); err != nil || s.ConnReuseMode != 0 {
		t.Errorf("after a refused write: %+v, %v; want conn_reuse_mode unwritten", s, err)
	}
	if err := c.SetSysctls(ctx, ipvs.SysctlChanges{Other: map[string]string{"no_such_entry": "1"}}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a write to an entry the model lacks: %v, want os.ErrNotExist", err)
	}
	f.SetKernelVersion(5, 10)
	if s, _ = c.Sysctls(ctx); !slices.Contains(s.Absent, "run_estimation") || !slices.Contains(s.Absent, "conn_lfactor") {
		t.Errorf("Linux 5.10's: absent %v", s.Absent)
	}

	ap := netip.MustParseAddrPort
	conns := []ipvs.Connection{
		{Protocol: ipvs.ProtocolTCP, Client: ap("10.9.0.2:40000"), Virtual: ap("10.0.0.1:80"), Destination: ap("10.1.0.1:80"), State: "ESTABLISHED", Expires: 900 * time.Second},
		{Protocol: ipvs.ProtocolUDP, Client: ap("[2001:db8::9]:5000"), Virtual: ap("[2001:db8::1]:53"), Destination: ap("[2001:db8::2]:53"), State: "UDP", Synced: true},
		{Protocol: ipvs.ProtocolUDP, Client: ap("10.9.0.3:5060"), Virtual: ap("10.0.0.1:5060"), Destination: ap("10.1.0.1:5060"), State: "UDP", PersistenceEngine: "sip", PEData: "call@host"},
	}
	f.SetConnectionTable(conns)
	var got []ipvs.Connection
	for conn, err := range c.Connections(ctx, ipvs.ConnectionFilter{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, conn)
	}
	if !reflect.DeepEqual(got, conns) {
		t.Errorf("Connections\n%+v, want\n%+v", got, conns)
	}
	states, err := c.ConnectionStates(ctx, ipvs.ConnectionFilter{Destination: ap("10.1.0.1:0")})
	if err != nil || states["ESTABLISHED"] != 1 || states["UDP"] != 1 || len(states) != 2 {
		t.Errorf("ConnectionStates = %v, %v", states, err)
	}
}

// TestFakeTotals: the model's totals are what the test set, printed as
// ip_vs_stats and read back through the client's parser, 64-bit values
// whole; they outlive services and ZeroServiceStats, and ZeroStats zeroes
// them.
func TestFakeTotals(t *testing.T) {
	f := NewFake()
	c := f.Client(t)
	ctx := t.Context()
	if got, err := c.Totals(ctx); err != nil || got != (ipvs.Stats{}) {
		t.Fatalf("a fresh model's totals: %+v, %v", got, err)
	}
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	must(t, c.CreateService(ctx, svc))
	want := ipvs.Stats{Connections: 1<<33 + 1, InPackets: 2, OutPackets: 3, InBytes: 1<<64 - 1, OutBytes: 5,
		ConnectionRate: 6, InPacketRate: 7, OutPacketRate: 8, InByteRate: 1 << 40, OutByteRate: 10}
	f.SetTotals(want)
	must(t, c.ZeroServiceStats(ctx, svc))
	must(t, c.RemoveService(ctx, svc))
	if got, err := c.Totals(ctx); err != nil || got != want {
		t.Errorf("Totals = %+v, %v; want %+v", got, err, want)
	}
	must(t, c.ZeroStats(ctx))
	if got, err := c.Totals(ctx); err != nil || got != (ipvs.Stats{}) {
		t.Errorf("after ZeroStats: %+v, %v", got, err)
	}
}
