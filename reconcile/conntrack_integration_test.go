//go:build integration && linux

package reconcile

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
)

// TestKernelSyncFlushConntrack removes a UDP destination with
// Options.FlushConntrack: its conntrack entry goes, the other's stays,
// as conntrack -L shows, and the plan counts both the flush and the
// entry deleted. Without nf_conntrack_netlink, the same Sync removes the
// destination all the same and returns an error matching
// ipvs.ErrNoConntrack: that case needs a boot of its own without the
// module (VM_WITHOUT_MODULES=nf_conntrack_netlink), since unloading it
// after other tests can hang.
func TestKernelSyncFlushConntrack(t *testing.T) {
	absent := strings.Contains(" "+os.Getenv("VM_WITHOUT_MODULES")+" ", " nf_conntrack_netlink ")
	ns, c, ctx := kernelSetup(t)
	if out, err := ns.Sh("ip addr add 10.99.2.1/24 dev lo"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !absent {
		// One entry per real server, as IPVS writes them when it
		// masquerades with the conntrack sysctl on.
		for _, real := range []string{"10.99.2.2", "10.99.2.3"} {
			port := "4000" + real[len(real)-1:] // a client port of its own
			cmd := "conntrack -I -p udp -s 10.99.0.2 -d 10.99.1.1 --sport " + port + " --dport 53 -r " + real +
				" -q 10.99.0.2 --reply-port-src 53 --reply-port-dst " + port + " -t 120"
			if out, err := ns.Sh(cmd); err != nil {
				t.Fatalf("%s: %v: %s", cmd, err, out)
			}
		}
	}
	svc := udp("10.99.1.1", 53)
	r := NewReconciler(c, Options{FlushConntrack: true})
	if _, err := r.Sync(ctx, []ipvs.VirtualServer{vs(svc, dst("10.99.2.2:53", 1), dst("10.99.2.3:53", 1))}); err != nil {
		t.Fatal(err)
	}
	p, err := r.Sync(ctx, []ipvs.VirtualServer{vs(svc, dst("10.99.2.3:53", 1))})
	t.Logf("plan:\n%s", p)
	if n := len(p.ConntrackFlushes()); n != 1 || !strings.Contains(p.String(), "# flush conntrack udp 10.99.1.1:53 -> 10.99.2.2:53\n") {
		t.Errorf("%d flushes planned, want 1, printed", n)
	}
	ds, derr := c.Destinations(ctx, svc)
	if derr != nil || len(ds) != 1 || ds[0].Address.String() != "10.99.2.3" {
		t.Errorf("destinations after the sync: %v, %v; want 10.99.2.3 alone", ds, derr)
	}
	if absent {
		if !errors.Is(err, ipvs.ErrNoConntrack) || !strings.Contains(err.Error(), "flush conntrack") {
			t.Fatalf("got %v, want an error of the flush matching ipvs.ErrNoConntrack", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if p.ConntrackFlushed() != 1 {
		t.Errorf("flushed %d entries, want 1", p.ConntrackFlushed())
	}
	out, _ := ns.Sh("conntrack -L 2>/dev/null")
	if strings.Contains(out, "src=10.99.2.2") || !strings.Contains(out, "src=10.99.2.3") {
		t.Errorf("conntrack -L after the sync:\n%s", out)
	}
}
