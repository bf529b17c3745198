//go:build !linux

package ipvstest

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/ipvs-go/ipvs"
)

// NetNS is a network namespace made for a test. Only Linux has them.
type NetNS struct{}

// NewNetNS skips the test: network namespaces exist only on Linux.
func NewNetNS(t testing.TB) *NetNS {
	t.Helper()
	skipOrFail(t, "network namespaces need Linux")
	return nil
}

// NewKernelClient skips the test: IPVS exists only on Linux.
func NewKernelClient(t testing.TB) (*ipvs.Client, *NetNS) {
	t.Helper()
	skipOrFail(t, "IPVS needs Linux")
	return nil, nil
}

func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("IPVS_REQUIRED") == "1" {
		t.Fatalf("ipvstest: %s", msg)
	}
	t.Skipf("ipvstest: %s", msg)
}

// Fd returns -1: there is no namespace.
func (ns *NetNS) Fd() int { return -1 }

// Path returns "": there is no namespace.
func (ns *NetNS) Path() string { return "" }

// Do returns an error wrapping errors.ErrUnsupported.
func (ns *NetNS) Do(fn func() error) error { return errUnsupported }

// Run returns an error wrapping errors.ErrUnsupported.
func (ns *NetNS) Run(name string, args ...string) (string, error) { return "", errUnsupported }

var errUnsupported = fmt.Errorf("ipvstest: network namespaces need Linux: %w", errors.ErrUnsupported)
