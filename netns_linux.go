//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// openNetNS returns a file of the namespace cfg names, or nil when the
// Client is to work in the caller's own namespace. The Client holds the
// file for its lifetime, because it dials new sockets there whenever one
// was abandoned or all are busy, possibly from a thread in another
// namespace.
//
// The caller's namespace needs no file, and must not get one: entering a
// namespace takes CAP_SYS_ADMIN, while IPVS itself needs only
// CAP_NET_ADMIN, which is all a balancer daemon may hold. Only a caller
// whose thread was moved into another namespace than its process's (it
// locked its goroutine and called setns, which took CAP_SYS_ADMIN) has
// that namespace held, so that every later socket is dialled there too.
func openNetNS(cfg *Config) (*os.File, error) {
	switch {
	case cfg.NetNS != 0:
		fd, err := unix.FcntlInt(uintptr(cfg.NetNS), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("duplicate network namespace fd %d: %w", cfg.NetNS, err)
		}
		return os.NewFile(uintptr(fd), fmt.Sprintf("netns fd %d", cfg.NetNS)), nil
	case cfg.NetNSPath != "":
		f, err := os.Open(cfg.NetNSPath)
		if err != nil {
			return nil, fmt.Errorf("open network namespace: %w", err)
		}
		return f, nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var thread, process unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), &thread); err != nil {
		// No procfs to tell: work in whatever namespace sockets are made.
		return nil, nil
	}
	if err := unix.Stat("/proc/self/ns/net", &process); err == nil && thread.Dev == process.Dev && thread.Ino == process.Ino {
		return nil, nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		return nil, fmt.Errorf("open the caller's network namespace: %w", err)
	}
	return f, nil
}

// inNetNS runs fn on a thread locked in the client's network namespace,
// so that what fn opens under /proc/thread-self/net or /proc/sys/net
// belongs to that namespace (procfs resolves both by the opening thread's
// namespace, and an open file keeps it). With no namespace configured it
// runs fn on the caller's thread, locked, without entering anything.
func (c *Client) inNetNS(fn func() error) error {
	runtime.LockOSThread()
	ns, done, err := c.holdNetNS()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer done()
	if ns == nil {
		defer runtime.UnlockOSThread()
		return fn()
	}
	own, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open this thread's network namespace: %w", err)
	}
	defer own.Close()
	if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter the client's network namespace: %w", setnsError(err))
	}
	ferr := fn()
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked, so the runtime ends it with this
		// goroutine rather than run other code in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("return to this thread's network namespace: %w", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// setnsError says which capability a refused setns lacked.
func setnsError(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("entering a network namespace needs CAP_SYS_ADMIN: %w", err)
	}
	return err
}
