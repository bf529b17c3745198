//go:build integration && linux

package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
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
	t    *testing.T
	file *os.File
}

// newNetNS makes a fresh network namespace with lo up: IPVS refuses
// every IPv4 destination in a namespace that has no IPv4 address yet.
func newNetNS(t *testing.T) *netNS {
	t.Helper()
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result)
	go func() {
		// The thread is never unlocked: it ends with the goroutine, so no
		// other goroutine ever runs in the new namespace by accident.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: err}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		ch <- result{f, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("new network namespace: %v", r.err)
	}
	ns := &netNS{t: t, file: r.f}
	t.Cleanup(func() { _ = r.f.Close() })
	ns.sh("ip link set lo up")
	return ns
}

// in runs fn on a thread inside the namespace; sockets fn opens and
// processes it starts live there.
func (ns *netNS) in(fn func() error) error {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked, as above
		if err := unix.Setns(int(ns.file.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns: %w", err)
			return
		}
		ch <- fn()
	}()
	return <-ch
}

// sh runs a shell command in the namespace and fails the test if it fails.
func (ns *netNS) sh(cmd string) string {
	ns.t.Helper()
	out, err := ns.trySh(cmd)
	if err != nil {
		ns.t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return out
}

func (ns *netNS) trySh(cmd string) (string, error) {
	var out []byte
	err := ns.in(func() error {
		var err error
		out, err = exec.Command("/bin/sh", "-c", cmd).CombinedOutput()
		return err
	})
	return string(out), err
}

// client returns a Client for the namespace.
func (ns *netNS) client() *ipvs.Client {
	ns.t.Helper()
	c, err := ipvs.New(&ipvs.Config{NetNS: int(ns.file.Fd())})
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

// clientNS makes a second namespace, a client of ns over a veth pair:
// ns is 10.99.0.1 and holds the virtual addresses 10.99.1.0/24 on lo,
// the client is 10.99.0.2 and routes them through ns. Its packets reach
// IPVS in ns as a remote client's do, at LOCAL_IN.
func (ns *netNS) clientNS() *netNS {
	ns.t.Helper()
	client := newNetNS(ns.t)
	// busybox's ip moves a link to the namespace of a process.
	var holder *exec.Cmd
	must(ns.t, client.in(func() error {
		holder = exec.Command("sleep", "600")
		return holder.Start()
	}))
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	// busybox's ip ignores the peer's name, so the kernel names it: find it.
	ns.sh("ip link add dir0 type veth peer cli0")
	peer := ns.otherLink("dir0")
	ns.sh(fmt.Sprintf("ip link set %s netns %d && ip addr add 10.99.0.1/24 dev dir0 && ip link set dir0 up && "+
		"ip addr add 10.99.1.1/24 dev lo", peer, holder.Process.Pid))
	client.sh(fmt.Sprintf("ip addr add 10.99.0.2/24 dev %[1]s && ip link set %[1]s up && ip route add 10.99.1.0/24 via 10.99.0.1", client.otherLink("")))
	return client
}

// otherLink returns the name of the one link in the namespace that is
// neither lo nor not.
func (ns *netNS) otherLink(not string) string {
	ns.t.Helper()
	var name string
	must(ns.t, ns.in(func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, ifi := range ifs {
			if ifi.Name != "lo" && ifi.Name != not {
				name = ifi.Name
			}
		}
		if name == "" {
			return fmt.Errorf("no link other than lo and %q", not)
		}
		return nil
	}))
	return name
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
	}
	return 2
}
