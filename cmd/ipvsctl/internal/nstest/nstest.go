//go:build linux

// Package nstest makes network namespaces for ipvsctl's kernel tests and
// runs commands in them, so that ipvsadm and ipvsctl (which has no netns
// of its own there) see the same fresh table.
package nstest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// NS is a network namespace, held open by a file descriptor.
type NS struct{ f *os.File }

// New makes a fresh network namespace with lo up.
func New() (*NS, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result)
	go func() {
		// Never unlocked: the thread ends with the goroutine, so nothing
		// else ever runs in the namespace by accident.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		ch <- result{f, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	ns := &NS{f: r.f}
	if _, err := ns.Sh("ip link set lo up"); err != nil {
		ns.Close()
		return nil, err
	}
	return ns, nil
}

// Path returns a path naming the namespace, for --netns.
func (ns *NS) Path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.f.Fd()) }

// Close releases the namespace.
func (ns *NS) Close() error { return ns.f.Close() }

// Do runs fn on a thread inside the namespace: the sockets it opens and
// the processes it starts live there.
func (ns *NS) Do(fn func() error) error {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(int(ns.f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns: %w", err)
			return
		}
		ch <- fn()
	}()
	return <-ch
}

// Result is what a command did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs a program in the namespace with stdin.
func (ns *NS) Run(stdin string, name string, args ...string) (Result, error) {
	var r Result
	err := ns.Do(func() error {
		cmd := exec.Command(name, args...)
		var out, errb bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errb
		err := cmd.Run()
		r.Stdout, r.Stderr = out.String(), errb.String()
		if ee, ok := err.(*exec.ExitError); ok {
			r.Code = ee.Sys().(syscall.WaitStatus).ExitStatus()
			return nil
		}
		return err
	})
	return r, err
}

// Sh runs a shell command in the namespace and fails on a non-zero status.
func (ns *NS) Sh(script string) (string, error) {
	r, err := ns.Run("", "/bin/sh", "-c", script)
	if err == nil && r.Code != 0 {
		err = fmt.Errorf("%s: status %d: %s%s", script, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout, err
}

// Client makes a second namespace connected to ns by a veth pair: ns is
// 10.98.0.1, the client 10.98.0.2, routing 10.98.0.0/16 through ns.
func (ns *NS) Client() (*NS, error) {
	client, err := New()
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*NS, error) {
		client.Close()
		return nil, err
	}
	var holder *exec.Cmd
	if err := client.Do(func() error {
		holder = exec.Command("sleep", "600")
		return holder.Start()
	}); err != nil {
		return fail(err)
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	if _, err := ns.Sh("ip link add vdir type veth peer vcli"); err != nil {
		return fail(err)
	}
	// busybox's ip ignores the peer's name: find what the kernel chose.
	peer, err := ns.link("vdir")
	if err != nil {
		return fail(err)
	}
	if _, err := ns.Sh(fmt.Sprintf("ip link set %s netns %d && ip addr add 10.98.0.1/24 dev vdir && ip link set vdir up", peer, holder.Process.Pid)); err != nil {
		return fail(err)
	}
	if peer, err = client.link(""); err != nil {
		return fail(err)
	}
	if _, err := client.Sh(fmt.Sprintf("ip addr add 10.98.0.2/24 dev %[1]s && ip link set %[1]s up && ip route add 10.98.0.0/16 via 10.98.0.1", peer)); err != nil {
		return fail(err)
	}
	return client, nil
}

// link returns the name of a link that is neither lo nor not, and no
// dummy one.
func (ns *NS) link(not string) (string, error) {
	var name string
	err := ns.Do(func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		for _, ifi := range ifs {
			if ifi.Name != "lo" && ifi.Name != not && !strings.HasPrefix(ifi.Name, "dum") {
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
