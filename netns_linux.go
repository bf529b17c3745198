//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs/internal/procfs"
)

// netNS is the network namespace a Client works in, held open for the
// Client's life: every socket it dials, whichever thread dials it, and
// every procfs file it opens, belong there.
//
// It is the namespace Config names, or else the one of the thread that
// calls New, which is not always the one of the thread that dials later:
// a program may have moved one thread alone (a goroutine locked in init
// moves the main thread, and VirtualServers' fetchers dial on goroutines
// of their own, on other threads), and comparing with the process's
// namespace (/proc/self/ns/net, which is the main thread's) cannot tell.
// So the caller's namespace is always held, and a thread that is already
// in it (every thread, in a program that moved none) dials and opens
// files as it is, needing no privilege beyond IPVS's CAP_NET_ADMIN; only
// a thread elsewhere enters it, which takes CAP_SYS_ADMIN, as moving a
// thread did.
type netNS struct {
	f        *os.File
	dev, ino uint64 // of the namespace, to recognize it
}

// threadNetNS is the procfs path of the calling thread's namespace; the
// thread must be locked while it is used.
func threadNetNS() string { return fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()) }

// openNetNS opens the namespace cfg names, or the calling thread's. It
// returns nil, and no error, only when procfs cannot tell the caller's
// namespace: the Client then works wherever its sockets are made.
func openNetNS(cfg *Config) (*netNS, error) {
	var f *os.File
	switch {
	case cfg.NetNS != 0:
		fd, err := unix.FcntlInt(uintptr(cfg.NetNS), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("duplicate network namespace fd %d: %w", cfg.NetNS, err)
		}
		f = os.NewFile(uintptr(fd), fmt.Sprintf("netns fd %d", cfg.NetNS))
	case cfg.NetNSPath != "":
		var err error
		if f, err = os.Open(cfg.NetNSPath); err != nil {
			return nil, fmt.Errorf("open network namespace: %w", err)
		}
	default:
		runtime.LockOSThread()
		var err error
		f, err = os.Open(threadNetNS())
		runtime.UnlockOSThread()
		if err != nil {
			// No procfs to tell: work in whatever namespace sockets are made.
			return nil, nil
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("network namespace: %w", err)
	}
	return &netNS{f: f, dev: st.Dev, ino: st.Ino}, nil
}

func (ns *netNS) close() error { return ns.f.Close() }

// here reports whether the calling thread, which must be locked, is in
// the namespace.
func (ns *netNS) here() bool {
	var st unix.Stat_t
	return unix.Stat(threadNetNS(), &st) == nil && st.Dev == ns.dev && st.Ino == ns.ino
}

// dial opens a netlink socket of protocol proto in the namespace (in the
// calling thread's, if ns is nil).
func (ns *netNS) dial(proto int) (*netlink.Conn, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fd := 0
	if ns != nil && !ns.here() {
		// netlink.Dial enters it on a thread of its own, and lets that
		// thread die if it cannot come back.
		fd = int(ns.f.Fd())
	}
	return dialNetlink(fd, proto)
}

// setns is unix.Setns; tests make it fail.
var setns = unix.Setns

// inNetNS runs fn on a thread locked in the client's network namespace,
// so that what fn opens under /proc/thread-self/net or /proc/sys/net
// belongs to that namespace (procfs resolves both by the opening thread's
// namespace, and an open file keeps it). A caller whose thread is there
// already (or any, if ns is nil) runs fn itself, locked, without entering
// anything.
func (p nsProc) inNetNS(fn func() error) error {
	done, err := p.c.use()
	if err != nil {
		return err
	}
	defer done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if p.ns == nil || p.ns.here() {
		return fn()
	}
	return p.ns.run(fn)
}

// run runs fn on a thread of its own, moved into the namespace and back.
// The caller's thread never moves (it stays locked meanwhile, so fn's
// goroutine runs elsewhere). If the thread cannot come back, it is never
// handed back to Go's scheduler: its goroutine ends locked, and the
// runtime ends the thread with it.
func (ns *netNS) run(fn func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open(threadNetNS())
		if err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("open this thread's network namespace: %w", err)
			return
		}
		defer own.Close()
		if err := setns(int(ns.f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- fmt.Errorf("enter the client's network namespace: %w", setnsError(err))
			return
		}
		ferr := fn()
		if err := setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- errors.Join(ferr, fmt.Errorf("return to this thread's network namespace: %w", err))
			return // locked: the thread ends with this goroutine
		}
		runtime.UnlockOSThread()
		ch <- ferr
	}()
	return <-ch
}

// nsProc is the procfs of a client's namespace: each file is opened from
// a thread there, since procfs resolves /proc/thread-self/net and
// /proc/sys/net by the opening thread's namespace, and an open file keeps
// it, whichever thread reads it.
type nsProc struct {
	c  *Client
	ns *netNS // nil when procfs could not tell the caller's
}

func (p nsProc) OpenConns() (plain, sync io.ReadCloser, err error) {
	err = p.inNetNS(func() error {
		f, err := os.Open("/proc/thread-self/net/ip_vs_conn")
		if err != nil {
			return err
		}
		g, err := os.Open("/proc/thread-self/net/ip_vs_conn_sync")
		if err != nil {
			_ = f.Close()
			return err
		}
		plain, sync = f, g
		return nil
	})
	return plain, sync, err
}

func (p nsProc) Sysctls() (m map[string]string, err error) {
	err = p.inNetNS(func() error {
		m, err = procfs.ReadSysctls(procfs.SysctlDir)
		return err
	})
	return m, err
}

func (p nsProc) SetSysctl(name, text string) error {
	return p.inNetNS(func() error { return procfs.WriteSysctl(procfs.SysctlDir, name, text) })
}

func (p nsProc) ReadStats() (b []byte, err error) {
	err = p.inNetNS(func() error {
		b, err = procfs.ReadStats(procfs.StatsFile)
		return err
	})
	return b, err
}

// setnsError says which capability a refused setns lacked.
func setnsError(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("entering a network namespace needs CAP_SYS_ADMIN: %w", err)
	}
	return err
}
