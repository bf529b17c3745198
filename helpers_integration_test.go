//go:build integration && linux

package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/google/go-cmp/cmp"
	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/netns"
)

// The integration tests run as root on a kernel with ip_vs, inside the
// VM that make integration boots (vm/run.sh). Each test works in network
// namespaces of its own, through the client's NetNS option, so that no
// test sees another's services, daemons or timeouts.

func TestMain(m *testing.M) {
	if os.Getenv("IPVS_HELPER") != "" {
		os.Exit(helperMain())
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "the integration tests need root and ip_vs: run them with make integration")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// netNS is a network namespace made for one test.
type netNS struct {
	t *testing.T
	*netns.NS
}

func newNetNS(t *testing.T) *netNS {
	t.Helper()
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	return &netNS{t, ns}
}

// in runs fn on a thread inside the namespace.
func (ns *netNS) in(fn func() error) error { return ns.Do(fn) }

// sh runs a shell command in the namespace and fails the test if it fails.
func (ns *netNS) sh(cmd string) string {
	ns.t.Helper()
	out, err := ns.Sh(cmd)
	if err != nil {
		ns.t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return out
}

// client returns a Client for the namespace.
func (ns *netNS) client() *ipvs.Client {
	ns.t.Helper()
	c, err := ipvs.New(&ipvs.Config{NetNS: ns.Fd()})
	if err != nil {
		ns.t.Fatalf("New: %v", err)
	}
	ns.t.Cleanup(func() { _ = c.Close() })
	return c
}

// newClient is the common start of a test: a fresh namespace and a client.
func newClient(t *testing.T) (*netNS, *ipvs.Client) {
	ns := newNetNS(t)
	return ns, ns.client()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr checks that err matches each of targets with errors.Is.
func wantErr(t *testing.T, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) is false", err, target)
		}
	}
}

// fixtureServices are four services of every kind, which the ipvsadm and
// capture tests configure: TCP over IPv4, persistent UDP over IPv6, a
// fwmark service with scheduler flags, and SIP persistence.
func fixtureServices() (tcp, udp6, fwm, sip ipvs.Service) {
	tcp = ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	udp6 = ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53, Scheduler: "wlc",
		Flags: ipvs.FlagPersistent, Timeout: 300 * time.Second, Netmask: ipvs.PrefixMask(64)}
	fwm = ipvs.Service{Family: ipvs.FamilyIPv4, FWMark: 7, Scheduler: "sh", Flags: ipvs.FlagSHFallback | ipvs.FlagSHPort}
	sip = ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("10.0.0.5"), Port: 5060, Scheduler: "rr",
		PersistenceEngine: "sip", Flags: ipvs.FlagPersistent, Timeout: 60 * time.Second, Netmask: ipvs.PrefixMask(24)}
	return
}

// moduleBuilt reports whether the kernel has a module, built in or loadable.
func moduleBuilt(name string) bool {
	if _, err := os.Stat("/sys/module/" + name); err == nil {
		return true
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	rel := unix.ByteSliceToString(uts.Release[:])
	b, _ := os.ReadFile("/lib/modules/" + rel + "/modules.dep")
	return strings.Contains(string(b), "/"+name+".ko:")
}

// kernelAtLeast reports whether the running kernel is at least major.minor.
func kernelAtLeast(major, minor int) bool {
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	var ma, mi int
	fmt.Sscanf(unix.ByteSliceToString(uts.Release[:]), "%d.%d", &ma, &mi)
	return ma > major || ma == major && mi >= minor
}

// clientNS makes a client namespace of ns over a veth pair (see
// netns.NS.Client): it reaches 10.99.1.0/24 in ns as a remote client.
func (ns *netNS) clientNS() *netNS {
	ns.t.Helper()
	c, err := ns.Client()
	if err != nil {
		ns.t.Fatalf("client namespace: %v", err)
	}
	ns.t.Cleanup(func() { _ = c.Close() })
	return &netNS{ns.t, c}
}

// udpTraffic sends n datagrams to addr from inside the namespace.
func (ns *netNS) udpTraffic(addr string, n int) {
	ns.t.Helper()
	must(ns.t, ns.in(func() error {
		c, err := net.Dial("udp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		for i := range n {
			if _, err := fmt.Fprintf(c, "packet %d", i); err != nil {
				return err
			}
		}
		return nil
	}))
}

// eventually polls cond for up to 10 seconds: packets cross the veth
// pair (and wait for ARP) after the sending call returns.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 10s", what)
		}
	}
}

// helperMain runs the test binary as a helper process: its parent starts
// it in other namespaces.
func helperMain() int {
	switch os.Getenv("IPVS_HELPER") {
	case "userns":
		// Root in a new user namespace, but not in the initial one.
		c, err := ipvs.New(nil)
		if err != nil {
			fmt.Println("NEW:", err)
			if errors.Is(err, os.ErrPermission) {
				return 3
			}
			return 2
		}
		defer c.Close()
		_, err = c.Info(context.Background())
		fmt.Println("INFO:", err)
		if errors.Is(err, os.ErrPermission) && errors.Is(err, unix.EPERM) {
			return 0
		}
		return 1
	case "capnetadmin":
		// CAP_NET_ADMIN alone, as a balancer daemon runs: no thread moved,
		// so no namespace is entered, and New, reads and writes all work,
		// from every thread.
		return helperStep(func(ctx context.Context) error {
			c, err := ipvs.New(nil)
			if err != nil {
				return err
			}
			defer c.Close()
			return useEverywhere(ctx, c)
		})
	case "mainthread":
		return helperMainThread()
	case "nocap":
		// No capability at all: the error must say which one is missing.
		return helperStep(func(ctx context.Context) error {
			c, err := ipvs.New(nil)
			if err != nil {
				return err
			}
			defer c.Close()
			_, err = c.Services(ctx)
			if errors.Is(err, os.ErrPermission) && strings.Contains(err.Error(), "CAP_NET_ADMIN") {
				fmt.Println("ERROR:", err)
				return nil
			}
			return fmt.Errorf("got %v, want a permission error naming CAP_NET_ADMIN", err)
		})
	}
	return 2
}

// helperStep runs fn and prints its error: 0 if none, 1 else.
func helperStep(fn func(ctx context.Context) error) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fn(ctx); err != nil {
		fmt.Println("FAIL:", err)
		return 1
	}
	return 0
}

// addrCmp compares addresses by value.
var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })
