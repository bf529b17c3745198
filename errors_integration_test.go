//go:build integration && linux

package ipvs_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

func TestKernelNoIPVS(t *testing.T) {
	if os.Getenv("VM_NO_IPVS") != "1" {
		t.Skip("needs a boot without the ip_vs modules (VM_NO_IPVS=1)")
	}
	_, err := ipvs.New(nil)
	wantErr(t, err, ipvs.ErrNoIPVS, os.ErrNotExist)
	t.Logf("New without ip_vs: %v", err)
}

// TestKernelRefusals sends what the client would refuse, through raw
// requests, to pin the kernel's errno for each; and checks that the
// client refuses the same input before sending it.
func TestKernelRefusals(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	must(t, c.CreateService(ctx, svc))
	raw := newRawIPVS(t, ns)
	tests := []struct {
		name   string
		errno  syscall.Errno
		cmd    uint8
		attrs  []rawAttr
		client func() error
	}{
		{"weight 2^31", unix.ERANGE, cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs("192.0.2.1", 80, 0, 1<<31, 0, 0))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("192.0.2.1"), Port: 80, Weight: 1 << 31})
			}},
		{"lower threshold above upper 0", unix.ERANGE, cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs("192.0.2.1", 80, 0, 1, 0, 10))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("192.0.2.1"), Port: 80, Weight: 1, LowerThreshold: 10})
			}},
		// Linux 5.10 accepts it and stores a negative threshold; 6.1 refuses.
		{"upper threshold above INT_MAX", kernelErrno(6, 1, unix.EINVAL), cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs("192.0.2.1", 80, 0, 1, 1<<31, 0))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("192.0.2.1"), Port: 80, Weight: 1, UpperThreshold: 1 << 31})
			}},
		{"GUE without port", unix.EINVAL, cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs("192.0.2.1", 80, 2, 1, 0, 0), u8Attr(13, 1))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("192.0.2.1"), Port: 80, Weight: 1, Forward: ipvs.ForwardTunnel, TunnelType: ipvs.TunnelGUE})
			}},
		{"IPv6 prefix 0", unix.EINVAL, cmdNewService, []rawAttr{svcFull6("2001:db8::9", 0)},
			func() error {
				return c.CreateService(ctx, ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("2001:db8::9"), Port: 80, Scheduler: "rr", Netmask: ipvs.PrefixMask(0)})
			}},
		{"IPv6 prefix 129", unix.EINVAL, cmdNewService, []rawAttr{svcFull6("2001:db8::9", 129)},
			func() error {
				return c.CreateService(ctx, ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("2001:db8::9"), Port: 80, Scheduler: "rr", Netmask: ipvs.PrefixMask(129)})
			}},
		{"mixed family masquerade", unix.EINVAL, cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs6("2001:db8::2", 80, 0), u16Attr(11, 10))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("2001:db8::2"), Port: 80, Weight: 1})
			}},
		{"daemon state 3", unix.EINVAL, cmdNewDaemon, []rawAttr{daemonAttrs(3, "lo", 1)},
			func() error { return c.StartDaemon(ctx, ipvs.Daemon{State: 3, Interface: "lo", SyncID: 1}) }},
		{"scheduler name of 20 bytes", unix.EINVAL, cmdNewService, []rawAttr{svcFull4WithSched("10.0.0.7", "abcdefghijklmnopqrst")},
			func() error {
				return c.CreateService(ctx, ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.7"), Port: 80, Scheduler: "abcdefghijklmnopqrst"})
			}},
		{"destination 0.0.0.0:0", unix.EINVAL, cmdNewDest, []rawAttr{svcKey4(svc), withAttrs(destAttrs("0.0.0.0", 0, 0, 1, 0, 0))},
			func() error {
				return c.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.IPv4Unspecified(), Weight: 1})
			}},
		{"connection timeout of 2^31 s", unix.EINVAL, 12, []rawAttr{func(ae *netlink.AttributeEncoder) { ae.Uint32(4, 1<<31) }},
			func() error { return c.SetTimeouts(ctx, ipvs.Timeouts{TCP: 1 << 31 * time.Second}) }},
		{"interface name of 20 bytes", unix.EINVAL, cmdNewDaemon, []rawAttr{daemonAttrs(1, "abcdefghijklmnopqrst", 1)},
			func() error {
				return c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "abcdefghijklmnopqrst", SyncID: 1})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := raw.do(tt.cmd, tt.attrs...)
			if tt.errno == 0 {
				if err != nil {
					t.Errorf("kernel: got %v, want it accepted by this kernel", err)
				}
				t.Logf("accepted by this kernel")
				must(t, c.RemoveDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("192.0.2.1"), Port: 80}))
			} else if !errors.Is(err, tt.errno) {
				t.Errorf("kernel: got %v, want %v", err, tt.errno)
			}
			wantErr(t, tt.client(), os.ErrInvalid)
		})
	}
	// Nothing above reached the table.
	dests, err := c.Destinations(ctx, svc)
	must(t, err)
	svcs, err := c.Services(ctx)
	must(t, err)
	if len(dests) != 0 || len(svcs) != 1 {
		t.Fatalf("refused requests changed the table: %d services, %d destinations", len(svcs), len(dests))
	}
}

// kernelErrno is errno on kernels since major.minor, and 0 (accepted) before.
func kernelErrno(major, minor int, errno syscall.Errno) syscall.Errno {
	if kernelAtLeast(major, minor) {
		return errno
	}
	return 0
}

func TestKernelPermission(t *testing.T) {
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), "IPVS_HELPER=userns")
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	out, err := cmd.CombinedOutput()
	t.Logf("root of a child user namespace:\n%s", out)
	if err != nil {
		t.Fatalf("want EPERM matched as os.ErrPermission from Info: %v", err)
	}
}

func TestKernelNamespaceIsolation(t *testing.T) {
	ns1, c1 := newClient(t)
	_, c2 := newClient(t)
	ctx := ctxT(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	must(t, c1.CreateService(ctx, svc))
	must(t, c2.CreateService(ctx, svc)) // the same key, in the other namespace
	must(t, c1.CreateDestination(ctx, svc, ipvs.Destination{Address: netip.MustParseAddr("10.0.0.2"), Port: 80, Weight: 1}))
	d2, err := c2.Destinations(ctx, svc)
	must(t, err)
	if len(d2) != 0 {
		t.Fatalf("a destination of namespace 1 is seen in namespace 2: %v", d2)
	}
	must(t, c2.SetTimeouts(ctx, ipvs.Timeouts{UDP: 5 * time.Second}))
	if to, _ := c1.Timeouts(ctx); to.UDP != 300*time.Second {
		t.Fatalf("namespace 2's timeouts leaked into namespace 1: %+v", to)
	}
	must(t, c2.Flush(ctx))
	s1, _ := c1.Services(ctx)
	s2, _ := c2.Services(ctx)
	if len(s1) != 1 || len(s2) != 0 {
		t.Fatalf("after flushing namespace 2: %d and %d services", len(s1), len(s2))
	}
	// The same namespace by path, as ip netns add makes it.
	path := "/run/netns/ipvs-test"
	must(t, os.WriteFile(path, nil, 0o644))
	must(t, unix.Mount(fmt.Sprintf("/proc/self/fd/%d", ns1.Fd()), path, "", unix.MS_BIND, ""))
	t.Cleanup(func() { _ = unix.Unmount(path, unix.MNT_DETACH); _ = os.Remove(path) })
	byPath, err := ipvs.New(&ipvs.Config{NetNSPath: path})
	must(t, err)
	defer byPath.Close()
	sp, err := byPath.Services(ctx)
	must(t, err)
	if len(sp) != 1 || sp[0].Address != svc.Address {
		t.Fatalf("by path: %v", sp)
	}
}

// rawIPVS sends hand-built requests, with an encoder of its own (mdlayher's
// AttributeEncoder, not the library's), to pin what the kernel does with
// input the client refuses to send.
type rawIPVS struct {
	c *genetlink.Conn
	f genetlink.Family
}

const (
	cmdNewService = 1
	cmdNewDest    = 5
	cmdNewDaemon  = 9
)

// rawAttr is one top-level attribute of a request.
type rawAttr func(ae *netlink.AttributeEncoder)

func newRawIPVS(t *testing.T, ns *netNS) *rawIPVS {
	t.Helper()
	var r rawIPVS
	must(t, ns.in(func() error {
		var err error
		if r.c, err = genetlink.Dial(nil); err != nil {
			return err
		}
		r.f, err = r.c.GetFamily("IPVS")
		return err
	}))
	t.Cleanup(func() { _ = r.c.Close() })
	return &r
}

func (r *rawIPVS) do(cmd uint8, attrs ...rawAttr) error {
	ae := netlink.NewAttributeEncoder()
	for _, a := range attrs {
		a(ae)
	}
	b, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = r.c.Execute(genetlink.Message{Header: genetlink.Header{Command: cmd, Version: r.f.Version}, Data: b},
		r.f.ID, netlink.Request|netlink.Acknowledge)
	return err
}

type nestAttr func(nae *netlink.AttributeEncoder)

func nest(typ uint16, fields ...nestAttr) rawAttr {
	return func(ae *netlink.AttributeEncoder) {
		ae.Nested(typ, func(nae *netlink.AttributeEncoder) error {
			for _, f := range fields {
				f(nae)
			}
			return nil
		})
	}
}

func u8Attr(typ uint16, v uint8) nestAttr {
	return func(ae *netlink.AttributeEncoder) { ae.Uint8(typ, v) }
}
func u16Attr(typ uint16, v uint16) nestAttr {
	return func(ae *netlink.AttributeEncoder) { ae.Uint16(typ, v) }
}
func u32Attr(typ uint16, v uint32) nestAttr {
	return func(ae *netlink.AttributeEncoder) { ae.Uint32(typ, v) }
}
func strAttr(typ uint16, s string) nestAttr {
	return func(ae *netlink.AttributeEncoder) { ae.String(typ, s) }
}
func bytesAttr(typ uint16, b []byte) nestAttr {
	return func(ae *netlink.AttributeEncoder) { ae.Bytes(typ, b) }
}
func be16Attr(typ uint16, v uint16) nestAttr {
	return bytesAttr(typ, binary.BigEndian.AppendUint16(nil, v))
}

func addrBytes(s string) []byte {
	a := netip.MustParseAddr(s)
	if a.Is4() {
		v := a.As4()
		return v[:]
	}
	v := a.As16()
	return v[:]
}

// svcKey4 is the SERVICE nest naming an IPv4 TCP service.
func svcKey4(svc ipvs.Service) rawAttr {
	return nest(1, u16Attr(1, 2), u16Attr(2, 6), bytesAttr(3, addrBytes(svc.Address.String())), be16Attr(4, svc.Port))
}

func flagsAttr() nestAttr { return bytesAttr(7, []byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}) }

func svcFull6(addr string, prefix uint32) rawAttr {
	return nest(1, u16Attr(1, 10), u16Attr(2, 6), bytesAttr(3, addrBytes(addr)), be16Attr(4, 80),
		strAttr(6, "rr"), flagsAttr(), u32Attr(8, 0), u32Attr(9, prefix))
}

func svcFull4WithSched(addr, sched string) rawAttr {
	return nest(1, u16Attr(1, 2), u16Attr(2, 6), bytesAttr(3, addrBytes(addr)), be16Attr(4, 80),
		strAttr(6, sched), flagsAttr(), u32Attr(8, 0), bytesAttr(9, []byte{0xff, 0xff, 0xff, 0xff}))
}

func destAttrs(addr string, port uint16, fwd, weight, upper, lower uint32) []nestAttr {
	return []nestAttr{bytesAttr(1, addrBytes(addr)), be16Attr(2, port), u32Attr(3, fwd), u32Attr(4, weight),
		u32Attr(5, upper), u32Attr(6, lower)}
}

func destAttrs6(addr string, port uint16, fwd uint32) []nestAttr {
	return destAttrs(addr, port, fwd, 1, 0, 0)
}

func withAttrs(fields []nestAttr, more ...nestAttr) rawAttr {
	return nest(2, append(append([]nestAttr(nil), fields...), more...)...)
}

func daemonAttrs(state uint32, ifn string, syncID uint32) rawAttr {
	return nest(3, u32Attr(1, state), strAttr(2, ifn), u32Attr(3, syncID))
}
