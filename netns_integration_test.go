//go:build integration && linux

package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

// The ways a Go program enters a network namespace, and a Client made in
// each: every socket it dials, from whichever thread, must be there.

func init() {
	// This helper moves the main thread alone, as a program does whose
	// init locks the main goroutine and then calls unshare or setns.
	if os.Getenv("IPVS_HELPER") == "mainthread" {
		runtime.LockOSThread()
	}
}

// nsServices is how many services useEverywhere makes, each with two
// destinations: more than VirtualServers' window, so that its fetchers,
// which dial on goroutines of their own, run for several windows.
const nsServices = 300

// nsService is service i of useEverywhere's table.
func nsService(i int) ipvs.Service {
	return ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, 77, byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr"}
}

// useEverywhere fills the client's namespace and reads it back through
// sockets dialled on many goroutines, and so on many threads: the
// VirtualServers fetchers and concurrent calls past the idle pool.
func useEverywhere(ctx context.Context, c *ipvs.Client) error {
	var b ipvs.Batch
	for i := range nsServices {
		svc := nsService(i)
		b.CreateService(svc)
		for j := range 2 {
			b.CreateDestination(svc, ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 78, byte(i), byte(j + 1)}), Port: 8080, Weight: 1})
		}
	}
	if _, err := c.Apply(ctx, &b); err != nil {
		return err
	}
	// A dump skips services while another namespace's are removed (an
	// earlier test's, torn down): a read that missed some is read again.
	var vss []ipvs.VirtualServer
	for range 10 {
		var err error
		if vss, err = c.VirtualServers(ctx); err != nil {
			return err
		}
		if len(vss) == nsServices {
			break
		}
	}
	dests := 0
	for _, vs := range vss {
		dests += len(vs.Destinations)
	}
	if len(vss) != nsServices || dests != 2*nsServices {
		return fmt.Errorf("VirtualServers read %d services and %d destinations, want %d and %d", len(vss), dests, nsServices, 2*nsServices)
	}
	errs := make(chan error, 32)
	var wg sync.WaitGroup
	for g := range cap(errs) {
		wg.Go(func() {
			ds, err := c.Destinations(ctx, nsService(g))
			if err == nil && len(ds) != 2 {
				err = fmt.Errorf("Destinations of %v: %d, want 2", nsService(g), len(ds))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	// procfs, read in the client's namespace too.
	if _, err := c.Sysctls(ctx); err != nil {
		return err
	}
	return nil
}

// checkInitialNamespaceUntouched fails the test if the namespace of the
// test's own threads, the VM's initial one, holds a service of
// useEverywhere's.
func checkInitialNamespaceUntouched(t *testing.T) {
	t.Helper()
	c, err := ipvs.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	svcs, err := c.Services(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range svcs {
		if strings.HasPrefix(s.Address.String(), "10.77.") {
			t.Fatalf("the initial namespace holds %v, made by a client of another namespace", s)
		}
	}
}

// moveThread moves the calling thread, which must be locked, into a new
// network namespace with lo up.
func moveThread() error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare: %w", err)
	}
	// ip starts from this thread, so it runs in its namespace.
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("lo up: %v: %s", err, out)
	}
	return nil
}

// helperMainThread is the "mainthread" helper: on the main thread, which
// init locked, it moves that thread alone and uses a Client made there.
func helperMainThread() int {
	return helperStep(func(ctx context.Context) error {
		if unix.Gettid() != unix.Getpid() {
			return errors.New("the helper does not run on the main thread")
		}
		if err := moveThread(); err != nil {
			return err
		}
		c, err := ipvs.New(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		return useEverywhere(ctx, c)
	})
}

// TestKernelNetNSMainThread: a program whose main thread alone moved
// (init locked the main goroutine, then unshare) gets a Client whose
// every socket is in the main thread's namespace, though its other
// threads stay in the initial one.
func TestKernelNetNSMainThread(t *testing.T) {
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), "IPVS_HELPER=mainthread")
	out, err := cmd.CombinedOutput()
	t.Logf("helper:\n%s", out)
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	checkInitialNamespaceUntouched(t)
}

// TestKernelNetNSLockedThread: a goroutine locked to a thread that it
// moved, as most programs enter a namespace, gets a Client whose every
// socket is in that namespace.
func TestKernelNetNSLockedThread(t *testing.T) {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := moveThread(); err != nil {
			ch <- err
			return
		}
		c, err := ipvs.New(nil)
		if err != nil {
			ch <- err
			return
		}
		defer c.Close()
		ch <- useEverywhere(ctxT(t), c)
	}()
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	checkInitialNamespaceUntouched(t)
}

// TestKernelNetNSConfig: a Client of a namespace named by Config.NetNS,
// made from a thread elsewhere, works there only.
func TestKernelNetNSConfig(t *testing.T) {
	ns := newNetNS(t)
	c, err := ipvs.New(&ipvs.Config{NetNS: ns.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := useEverywhere(ctxT(t), c); err != nil {
		t.Fatal(err)
	}
	// ipvsadm's dumps skip services while other namespaces are torn down.
	eventually(t, "ipvsadm lists every service of the namespace", func() bool {
		return strings.Count(ns.sh("ipvsadm -Ln"), "TCP  10.77.") == nsServices
	})
	checkInitialNamespaceUntouched(t)
}
