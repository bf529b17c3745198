//go:build integration && linux

package exporter_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// netNS is a network namespace the test made, held by a file.
type netNS struct{ f *os.File }

// newNetNS makes a namespace with lo up, on a thread that is never
// unlocked and so dies with its goroutine.
func newNetNS(t *testing.T) *netNS {
	t.Helper()
	type made struct {
		f   *os.File
		err error
	}
	ch := make(chan made)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- made{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		ch <- made{f, err}
	}()
	m := <-ch
	if m.err != nil {
		t.Fatal(m.err)
	}
	ns := &netNS{f: m.f}
	t.Cleanup(func() { ns.f.Close() })
	ns.sh(t, "ip link set lo up")
	return ns
}

func (ns *netNS) fd() int { return int(ns.f.Fd()) }

// do runs fn on a thread in the namespace: sockets it opens and processes
// it starts live there.
func (ns *netNS) do(fn func() error) error {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked, as in newNetNS
		if err := unix.Setns(ns.fd(), unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns: %w", err)
			return
		}
		ch <- fn()
	}()
	return <-ch
}

// sh runs a shell command in the namespace and returns its output; a
// failure ends the test.
func (ns *netNS) sh(t *testing.T, cmd string) string {
	t.Helper()
	var out []byte
	err := ns.do(func() error {
		var err error
		out, err = exec.Command("/bin/sh", "-c", cmd).CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// links returns the names of the namespace's links other than lo.
func (ns *netNS) links(t *testing.T) []string {
	t.Helper()
	var names []string
	if err := ns.do(func() error {
		ifs, err := net.Interfaces()
		for _, ifi := range ifs {
			if ifi.Name != "lo" {
				names = append(names, ifi.Name)
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return names
}

// connect joins director and client with a veth pair: the director is
// 10.98.0.1 and holds 10.98.1.0/24 and 10.98.2.0/24 on lo, the client
// is 10.98.0.2 and routes both through it, so that its packets reach IPVS
// as a remote client's do.
func connect(t *testing.T, director, client *netNS) {
	t.Helper()
	// busybox ip moves a link to the namespace of a process, and names
	// the peer itself.
	var holder *exec.Cmd
	if err := client.do(func() error {
		holder = exec.Command("sleep", "60")
		return holder.Start()
	}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	director.sh(t, "ip link add dir0 type veth peer cli0")
	var peer string
	for _, l := range director.links(t) {
		if l != "dir0" {
			peer = l
		}
	}
	if peer == "" {
		t.Fatal("no veth peer")
	}
	director.sh(t, fmt.Sprintf("ip link set %s netns %d && ip addr add 10.98.0.1/24 dev dir0 && ip link set dir0 up && "+
		"ip addr add 10.98.1.1/24 dev lo && ip addr add 10.98.2.1/32 dev lo && ip addr add 10.98.2.2/32 dev lo", peer, holder.Process.Pid))
	links := client.links(t)
	if len(links) != 1 {
		t.Fatalf("client links %v, want the veth peer only", links)
	}
	client.sh(t, fmt.Sprintf("ip addr add 10.98.0.2/24 dev %[1]s && ip link set %[1]s up && ip route add 10.98.0.0/16 via 10.98.0.1", links[0]))
}
