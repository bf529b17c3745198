//go:build linux

// Package netns makes network namespaces for the tests of every module of
// the repository, the benchmark and the demo, and runs code and commands
// inside them. It is internal-only; the nested modules (cmd/ipvsctl,
// exporter, bench) may import it, since Go's internal rule goes by import
// path.
package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"

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

// Path returns a path that names the namespace while it is open, for
// programs that take one (ipvs.Config.NetNSPath, ipvsctl --netns,
// nsenter --net=PATH).
func (ns *NS) Path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.Fd()) }

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

// Result is what a command run in a namespace did.
type Result struct {
	Stdout, Stderr string
	// Code is the exit status.
	Code int
}

// Run runs a program in the namespace with stdin as its input. A program
// that ran and failed is a Result with its Code, not an error; the error
// says why it could not run.
func (ns *NS) Run(stdin, name string, args ...string) (Result, error) {
	var r Result
	err := ns.Do(func() error {
		cmd := exec.Command(name, args...)
		var out, errb bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
		err := cmd.Run()
		r.Stdout, r.Stderr = out.String(), errb.String()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			r.Code = ee.ExitCode()
			return nil
		}
		return err
	})
	return r, err
}

// Sh runs a shell script in the namespace and returns its standard
// output. A non-zero exit status is an error that quotes the script and
// both outputs.
func (ns *NS) Sh(script string) (string, error) {
	r, err := ns.Run("", "/bin/sh", "-c", script)
	if err == nil && r.Code != 0 {
		err = fmt.Errorf("%s: exit status %d: %s%s", script, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout, err
}

// Client makes a second namespace, a client of ns over a veth pair: ns
// is 10.99.0.1 and holds the virtual addresses 10.99.1.0/24 on lo, the
// client is 10.99.0.2 and routes 10.99.0.0/16 through ns. It is ClientOn
// of that network and those addresses.
func (ns *NS) Client() (*NS, error) {
	return ns.ClientOn(netip.MustParsePrefix("10.99.0.0/16"), netip.MustParsePrefix("10.99.1.1/24"))
}

// ClientOn makes a second namespace, a client of ns over a veth pair, so
// that its packets reach IPVS in ns as a remote client's do, at LOCAL_IN.
// network is an IPv4 /16, such as 10.98.0.0/16: on the link, ns is .0.1
// and the client .0.2, and the client routes all of network through ns.
// vips are added to ns's lo, such as 10.98.1.1/24 for the virtual
// addresses 10.98.1.0/24.
func (ns *NS) ClientOn(network netip.Prefix, vips ...netip.Prefix) (*NS, error) {
	if !network.Addr().Is4() || network.Bits() != 16 {
		return nil, fmt.Errorf("client network %s is not an IPv4 /16", network)
	}
	base := network.Masked().Addr().As4()
	dirAddr, cliAddr := base, base
	dirAddr[3], cliAddr[3] = 1, 2
	client, err := New()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*NS, error) {
		_ = client.Close()
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
	before, err := ns.links()
	if err != nil {
		return fail(err)
	}
	// The director's end is dir0, or the next free dirN.
	dir := "dir0"
	for n := 1; slices.Contains(before, dir); n++ {
		dir = fmt.Sprintf("dir%d", n)
	}
	// busybox's ip ignores the peer's name, so the kernel names it: the
	// peer is the new link that is not ours.
	if _, err := ns.Sh("ip link add " + dir + " type veth peer cli0"); err != nil {
		return fail(fmt.Errorf("veth: %w", err))
	}
	after, err := ns.links()
	if err != nil {
		return fail(err)
	}
	peer := ""
	for _, l := range after {
		if l != dir && !slices.Contains(before, l) {
			peer = l
		}
	}
	if peer == "" {
		return fail(fmt.Errorf("no veth peer of %s among %v", dir, after))
	}
	script := fmt.Sprintf("ip link set %s netns %d && ip addr add %s/24 dev %s && ip link set %[4]s up",
		peer, holder.Process.Pid, netip.AddrFrom4(dirAddr), dir)
	for _, v := range vips {
		script += fmt.Sprintf(" && ip addr add %s dev lo", v)
	}
	if _, err := ns.Sh(script); err != nil {
		return fail(fmt.Errorf("director side: %w", err))
	}
	links, err := client.links()
	if err != nil || len(links) != 1 {
		return fail(fmt.Errorf("client links %v, want the veth peer alone: %v", links, err))
	}
	if _, err := client.Sh(fmt.Sprintf("ip addr add %s/24 dev %[2]s && ip link set %[2]s up && ip route add %s via %s",
		netip.AddrFrom4(cliAddr), links[0], network.Masked(), netip.AddrFrom4(dirAddr))); err != nil {
		return fail(fmt.Errorf("client side: %w", err))
	}
	return client, nil
}

// Link joins ns and peer with a veth pair, both ends up: ns's end is
// named name and holds addr, peer's is named peerName and holds
// peerAddr. Neither name may be taken in ns already.
func (ns *NS) Link(name string, addr netip.Prefix, peer *NS, peerName string, peerAddr netip.Prefix) error {
	before, err := ns.links()
	if err != nil {
		return err
	}
	if _, err := ns.Sh(fmt.Sprintf("ip link add %s type veth peer %s", name, peerName)); err != nil {
		return fmt.Errorf("veth %s: %w", name, err)
	}
	after, err := ns.links()
	if err != nil {
		return err
	}
	// busybox's ip ignores the peer's name, so the kernel names it: it
	// is the new link that is not name.
	kernelName := ""
	for _, l := range after {
		if l != name && !slices.Contains(before, l) {
			kernelName = l
		}
	}
	if kernelName == "" {
		return fmt.Errorf("no veth peer of %s among %v", name, after)
	}
	var holder *exec.Cmd
	if err := peer.Do(func() error {
		holder = exec.Command("sleep", "600")
		return holder.Start()
	}); err != nil {
		return err
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	// The peer takes its name before it moves, so that it meets no link
	// of the kernel's naming there.
	if _, err := ns.Sh(fmt.Sprintf("ip link set %s name %s && ip link set %[2]s netns %d && ip addr add %s dev %s && ip link set %[5]s up",
		kernelName, peerName, holder.Process.Pid, addr, name)); err != nil {
		return fmt.Errorf("veth %s: %w", name, err)
	}
	if _, err := peer.Sh(fmt.Sprintf("ip addr add %s dev %s && ip link set %[2]s up", peerAddr, peerName)); err != nil {
		return fmt.Errorf("veth %s: %w", peerName, err)
	}
	return nil
}

// links returns the names of the namespace's links other than lo.
func (ns *NS) links() ([]string, error) {
	var names []string
	err := ns.Do(func() error {
		ifs, err := net.Interfaces()
		for _, ifi := range ifs {
			if ifi.Name != "lo" {
				names = append(names, ifi.Name)
			}
		}
		return err
	})
	return names, err
}
