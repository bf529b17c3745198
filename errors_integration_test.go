//go:build integration && linux

package ipvs_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mdlayher/netlink"

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
