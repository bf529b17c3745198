package ipvs

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestInNetNSFailedReturn: when the thread that ran fn in the client's
// namespace cannot return to its own, neither it nor the caller's thread
// ever runs other Go code: fn ran on a thread other than the caller's,
// and that thread ends with its goroutine (or, the main thread, is
// wedged by the runtime).
func TestInNetNSFailedReturn(t *testing.T) {
	calls := 0
	setns = func(fd, nstype int) error {
		if calls++; calls == 2 {
			return unix.EPERM
		}
		return nil // stays where it is: the test needs no privilege
	}
	t.Cleanup(func() { setns = unix.Setns })
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	c := newClientWith(&Config{}, nil, family{})
	// No thread is in this namespace, so fn is run in it by entering it.
	c.ns, c.releaseNS = &netNS{f: f}, f.Close
	t.Cleanup(func() { _ = c.Close() })

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	caller := unix.Gettid()
	ran := 0
	err = c.inNetNS(func() error {
		ran = unix.Gettid()
		return nil
	})
	if err == nil || calls != 2 {
		t.Fatalf("inNetNS = %v after %d setns calls, want the failed return's error", err, calls)
	}
	if ran == 0 || ran == caller {
		t.Fatalf("fn ran on thread %d, the caller's is %d: the caller's thread must never move", ran, caller)
	}
	if ran == unix.Getpid() {
		// The main thread is never ended: the runtime wedges it instead,
		// which keeps it from Go code as well.
		t.Logf("fn ran on the main thread, which the runtime wedges")
		return
	}
	task := fmt.Sprintf("/proc/self/task/%d", ran)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(task); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d, which could not return to its namespace, still runs", ran)
		}
	}
}
