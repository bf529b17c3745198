package reconcile

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
)

// TestApplyOutcome: each refused write becomes a ChangeError naming its
// change, matchable as the kernel's answer.
func TestApplyOutcome(t *testing.T) {
	p := mustCompute(t, nil, []ipvs.VirtualServer{vs(tcp("10.0.0.1", 80), dst("10.1.0.1:80", 1), dst("10.1.0.2:80", 1))}, Options{})
	exists := &ipvs.Error{Op: "create destination", Err: os.ErrExist}
	results := []error{nil, exists, nil}
	for _, libErr := range []error{nil, &ipvs.BatchError{Failed: 1, Total: 3, Results: results}} {
		err := p.outcome(results, libErr)
		var ce *ChangeError
		if !errors.As(err, &ce) || ce.Change.Destination.Address != netip.MustParseAddr("10.1.0.1") || !errors.Is(err, os.ErrExist) {
			t.Errorf("outcome %v", err)
		}
		if strings.Count(err.Error(), "create destination") != 1 || !strings.HasSuffix(err.Error(), ": file already exists") {
			t.Errorf("outcome %q: want the change once, then the cause", err)
		}
	}
	if err := p.outcome([]error{nil, nil, nil}, nil); err != nil {
		t.Errorf("outcome of success: %v", err)
	}
	ended := errors.New("socket closed")
	unsent := []error{nil, ipvs.ErrNotSent, ipvs.ErrNotSent}
	for _, libErr := range []error{ended, &ipvs.BatchError{Failed: 2, Total: 3, Cause: ended, Results: unsent}} {
		if err := p.outcome(unsent, libErr); !errors.Is(err, ended) || !errors.Is(err, ipvs.ErrNotSent) || strings.Count(err.Error(), "socket closed") != 1 {
			t.Errorf("outcome of a batch ended early: %v", err)
		}
	}
}
