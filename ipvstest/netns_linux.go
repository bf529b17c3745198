//go:build linux

package ipvstest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/netns"
)

// NetNS is a network namespace made for a test, held open by a file
// descriptor until the test ends.
type NetNS struct {
	ns *netns.NS
}

// NewNetNS makes a fresh network namespace with lo up, closed when the
// test ends. It skips the test if the process may not make one (it needs
// CAP_SYS_ADMIN), unless IPVS_REQUIRED=1.
func NewNetNS(t testing.TB) *NetNS {
	t.Helper()
	ns, err := newNetNS()
	if err != nil {
		skipOrFail(t, errors.Is(err, os.ErrPermission), "make a network namespace: %v", err)
	}
	t.Cleanup(func() { _ = ns.ns.Close() })
	return ns
}

// NewKernelClient returns a client of the kernel's IPVS in a fresh
// network namespace with lo up, both closed when the test ends. It skips
// the test when the process lacks the privileges (CAP_SYS_ADMIN to make
// the namespace, CAP_NET_ADMIN for IPVS) or the kernel lacks IPVS, unless
// the environment sets IPVS_REQUIRED=1, which makes those failures.
func NewKernelClient(t testing.TB) (*ipvs.Client, *NetNS) {
	t.Helper()
	ns := NewNetNS(t)
	c, err := ipvs.New(&ipvs.Config{NetNS: ns.Fd()})
	if err != nil {
		skipOrFail(t, errors.Is(err, ipvs.ErrNoIPVS) || errors.Is(err, os.ErrPermission), "ipvs.New: %v", err)
	}
	// A read proves the privilege: IPVS checks CAP_NET_ADMIN per request.
	if _, err := c.Info(t.Context()); err != nil {
		_ = c.Close()
		skipOrFail(t, errors.Is(err, os.ErrPermission), "ipvs Info: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, ns
}

// skipOrFail skips the test when the environment lacks what it needs
// and IPVS_REQUIRED is not 1; it fails it otherwise.
func skipOrFail(t testing.TB, missing bool, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if missing && os.Getenv("IPVS_REQUIRED") != "1" {
		t.Skipf("ipvstest: %s (needs root with IPVS; set IPVS_REQUIRED=1 to fail instead)", msg)
	}
	t.Fatalf("ipvstest: %s", msg)
}

func newNetNS() (*NetNS, error) {
	ns, err := netns.New()
	if err != nil {
		return nil, err
	}
	return &NetNS{ns: ns}, nil
}

// Fd returns the namespace's file descriptor, as ipvs.Config.NetNS takes.
func (ns *NetNS) Fd() int { return ns.ns.Fd() }

// Path returns a path of the namespace for tools that take one, such as
// nsenter --net=PATH; it is valid while the test runs.
func (ns *NetNS) Path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), ns.Fd()) }

// Do runs fn on a thread inside the namespace: sockets fn opens, and
// processes it starts, live there.
func (ns *NetNS) Do(fn func() error) error { return ns.ns.Do(fn) }

// Run runs a command inside the namespace and returns its combined
// output, such as ns.Run("ipvsadm", "-Ln").
func (ns *NetNS) Run(name string, args ...string) (string, error) {
	var out []byte
	err := ns.Do(func() error {
		var err error
		out, err = exec.Command(name, args...).CombinedOutput()
		return err
	})
	return string(out), err
}
