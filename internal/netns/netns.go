//go:build linux

// Package netns makes network namespaces for the integration tests and
// the demo, and runs code and commands inside them. It is internal-only.
package netns

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"

	"golang.org/x/sys/unix"
)

// NS is a network namespace, held open by a file descriptor.
type NS struct{ f *os.File }

// New makes a fresh network namespace with lo up: IPVS refuses every IPv4
// destination in a namespace that has no IPv4 address yet.
func New() (*NS, error) {
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
			ch <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err == nil {
			if err = linkUp("lo"); err != nil {
				_ = f.Close()
			}
		}
		ch <- result{f, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	return &NS{f: r.f}, nil
}

// linkUp sets an interface of the calling thread's namespace up with an
// ioctl, so that New needs no ip command.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s up: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s flags: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("%s up: %w", name, err)
	}
	return nil
}

// Fd returns the namespace's file descriptor, for ipvs.Config.NetNS.
func (ns *NS) Fd() int { return int(ns.f.Fd()) }

// Close releases the namespace; it ends when nothing else holds it.
func (ns *NS) Close() error { return ns.f.Close() }

// Do runs fn on a thread inside the namespace; sockets fn opens and
// processes it starts live there.
func (ns *NS) Do(fn func() error) error {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked, as in New
		if err := unix.Setns(ns.Fd(), unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns: %w", err)
			return
		}
		ch <- fn()
	}()
	return <-ch
}

// Sh runs a shell command in the namespace and returns its output.
func (ns *NS) Sh(cmd string) (string, error) {
	var out []byte
	err := ns.Do(func() error {
		var err error
		out, err = exec.Command("/bin/sh", "-c", cmd).CombinedOutput()
		return err
	})
	return string(out), err
}

// Client makes a second namespace, a client of ns over a veth pair: ns
// is 10.99.0.1 and holds the virtual addresses 10.99.1.0/24 on lo, the
// client is 10.99.0.2 and routes them through ns. Its packets reach IPVS
// in ns as a remote client's do, at LOCAL_IN.
func (ns *NS) Client() (*NS, error) {
	client, err := New()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*NS, error) {
		client.Close()
		return nil, err
	}
	// ip moves a link to the namespace of a process.
	var holder *exec.Cmd
	if err := client.Do(func() error {
		holder = exec.Command("sleep", "600")
		return holder.Start()
	}); err != nil {
		return fail(err)
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	// busybox's ip ignores the peer's name, so the kernel names it: find it.
	if out, err := ns.Sh("ip link add dir0 type veth peer cli0"); err != nil {
		return fail(fmt.Errorf("veth: %v: %s", err, out))
	}
	peer, err := ns.otherLink("dir0")
	if err != nil {
		return fail(err)
	}
	if out, err := ns.Sh(fmt.Sprintf("ip link set %s netns %d && ip addr add 10.99.0.1/24 dev dir0 && ip link set dir0 up && "+
		"ip addr add 10.99.1.1/24 dev lo", peer, holder.Process.Pid)); err != nil {
		return fail(fmt.Errorf("director side: %v: %s", err, out))
	}
	if peer, err = client.otherLink(""); err != nil {
		return fail(err)
	}
	if out, err := client.Sh(fmt.Sprintf("ip addr add 10.99.0.2/24 dev %[1]s && ip link set %[1]s up && ip route add 10.99.0.0/16 via 10.99.0.1", peer)); err != nil {
		return fail(fmt.Errorf("client side: %v: %s", err, out))
	}
	return client, nil
}

// otherLink returns the name of the one link that is neither lo nor not.
func (ns *NS) otherLink(not string) (string, error) {
	var name string
	err := ns.Do(func() error {
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
	})
	return name, err
}
