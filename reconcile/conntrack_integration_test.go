//go:build integration && linux

package reconcile

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
)

// TestKernelSyncFlushConntrack removes a UDP destination with
// Options.FlushConntrack: its conntrack entry goes, the other's stays,
// as conntrack -L shows, and the plan counts both the flush and the
// entry deleted. Without nf_conntrack_netlink, the same Sync removes the
// destination all the same and returns an error matching
// ipvs.ErrNoConntrack.
func TestKernelSyncFlushConntrack(t *testing.T) {
	for _, absent := range []bool{false, true} {
		name := "conntrack"
		if absent {
			name = "no nf_conntrack_netlink"
		}
		t.Run(name, func(t *testing.T) {
			ns, c, ctx := kernelSetup(t)
			if out, err := ns.Sh("ip addr add 10.99.2.1/24 dev lo"); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
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
			svc := udp("10.99.1.1", 53)
			r := NewReconciler(c, Options{FlushConntrack: true})
			if _, err := r.Sync(ctx, []ipvs.VirtualServer{vs(svc, dst("10.99.2.2:53", 1), dst("10.99.2.3:53", 1))}); err != nil {
				t.Fatal(err)
			}
			if absent {
				// The kernel must not load it back on demand meanwhile.
				old, err := os.ReadFile("/proc/sys/kernel/modprobe")
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile("/proc/sys/kernel/modprobe", []byte("/bin/false"), 0); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					_ = os.WriteFile("/proc/sys/kernel/modprobe", old, 0)
					_ = exec.Command("modprobe", "nf_conntrack_netlink").Run()
				})
				if out, err := exec.Command("rmmod", "nf_conntrack_netlink").CombinedOutput(); err != nil {
					t.Fatalf("rmmod: %v: %s", err, out)
				}
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
		})
	}
}
