//go:build integration && linux

package reconcile

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/netns"
)

// The kernel tests run as root on a kernel with ip_vs, in the VM that
// vm/run.sh boots; each works in network namespaces of its own.

func kernelSetup(t *testing.T) (*netns.NS, *ipvs.Client, context.Context) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the kernel tests need root and ip_vs: run them in the VM")
	}
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	c, err := ipvs.New(&ipvs.Config{NetNS: ns.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ns, c, ctx
}

// foreignLines returns the lines of ipvsadm -Sn about the foreign services
// (port 22 and fwmark 99), sorted.
func foreignLines(t *testing.T, ns *netns.NS) []string {
	t.Helper()
	out, err := ns.Sh("ipvsadm -Sn")
	if err != nil {
		t.Fatalf("ipvsadm -Sn: %v: %s", err, out)
	}
	var ls []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, ":22 ") || strings.Contains(l, "-f 99 ") {
			ls = append(ls, l)
		}
	}
	slices.Sort(ls)
	return ls
}

// TestKernelConverge converges the kernel's table to random desired
// tables, from empty and then from each other, with foreign services
// present: after each Apply the next plan is empty, and ipvsadm -Sn shows
// the foreign services unchanged.
func TestKernelConverge(t *testing.T) {
	ns, c, ctx := kernelSetup(t)
	if out, err := ns.Sh("ipvsadm -A -t 10.9.0.1:22 -s wlc && ipvsadm -a -t 10.9.0.1:22 -r 10.9.0.2:22 -m -w 3 && " +
		"ipvsadm -A -f 99 -s rr -p 60 && ipvsadm -a -f 99 -r 10.9.0.3 -g"); err != nil {
		t.Fatalf("foreign services: %v: %s", err, out)
	}
	before := foreignLines(t, ns)
	if len(before) != 4 {
		t.Fatalf("foreign services as ipvsadm lists them: %q", before)
	}
	opts := Options{Owns: func(s ipvs.Service) bool { return s.Port != 22 && s.FWMark != 99 }}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 12 {
		desired := randomTable(rng)
		p, err := NewPlan(ctx, c, desired, opts)
		if err != nil {
			t.Fatal(err)
		}
		results, err := p.Apply(ctx, c)
		if err != nil {
			t.Fatalf("round %d: %v\nplan:\n%s", round, err, p)
		}
		if len(results) != len(p.Changes()) {
			t.Fatalf("round %d: %d results for %d changes", round, len(results), len(p.Changes()))
		}
		again, err := NewPlan(ctx, c, desired, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !again.Empty() {
			t.Fatalf("round %d: plan after applying:\n%s\nfirst plan:\n%s", round, again, p)
		}
	}
	// And back to empty: only the foreign services stay.
	if _, err := NewReconciler(c, opts).Sync(ctx, nil); err != nil {
		t.Fatal(err)
	}
	table, err := c.VirtualServers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(table) != 2 {
		t.Errorf("table after converging to nothing: %v", table)
	}
	if after := foreignLines(t, ns); !slices.Equal(before, after) {
		t.Errorf("foreign services changed:\n%s\nnow:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
}

// TestKernelUDPRemovedAtOnce: by default a UDP destination that is no
// longer desired goes in the same plan, which advises expire_nodest_conn
// while the namespace has it at 0, and no longer once it is 1.
func TestKernelUDPRemovedAtOnce(t *testing.T) {
	_, c, ctx := kernelSetup(t)
	svc := udp("10.99.1.1", 53)
	r := NewReconciler(c, Options{})
	three := []ipvs.VirtualServer{vs(svc, dst("10.99.2.1:53", 1), dst("10.99.2.2:53", 1), dst("10.99.2.3:53", 1))}
	if _, err := r.Sync(ctx, three); err != nil {
		t.Fatal(err)
	}
	for n, expire := range []bool{false, true} {
		if err := c.SetSysctls(ctx, ipvs.SysctlChanges{ExpireNodestConn: &expire}); err != nil {
			t.Fatal(err)
		}
		// One destination fewer each time.
		p, err := r.Sync(ctx, []ipvs.VirtualServer{vs(svc, three[0].Destinations[:2-n]...)})
		if err != nil {
			t.Fatal(err)
		}
		if cs := p.Changes(); len(cs) != 1 || cs[0].Kind != KindRemoveDestination {
			t.Errorf("plan:\n%s", p)
		}
		advised := len(p.Advisories()) == 1 && p.Advisories()[0].Sysctl == "expire_nodest_conn"
		if advised == expire {
			t.Errorf("expire_nodest_conn %v: advisories %v", expire, p.Advisories())
		}
		ds, err := c.Destinations(ctx, svc)
		if err != nil || len(ds) != 2-n {
			t.Errorf("destinations %v, %v; want %d", ds, err, 2-n)
		}
	}
}

// TestKernelConcurrentRemovers: while another program adds and removes
// services in another namespace, the kernel's dumps of this one skip
// services and list some twice (each chunk resumes at an index that counts
// the services of every namespace). Syncs of a converged table must still
// succeed and leave it as it is, and Watch must report nothing, since
// nothing here changes.
func TestKernelConcurrentRemovers(t *testing.T) {
	_, c, ctx := kernelSetup(t)
	_, other, _ := kernelSetup(t)
	desired := benchTable(2000, 1, 1)
	r := NewReconciler(c, Options{})
	if _, err := r.Sync(ctx, desired); err != nil {
		t.Fatal(err)
	}
	churn, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		var add, remove ipvs.Batch
		for i := range 300 {
			svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.AddrFrom4([4]byte{10, 50, byte(i >> 8), byte(i)}), Port: 53, Scheduler: "rr"}
			add.CreateService(svc)
			remove.RemoveService(svc)
		}
		for churn.Err() == nil {
			for _, b := range []*ipvs.Batch{&add, &remove} {
				if _, err := other.Apply(churn, b); err != nil && churn.Err() == nil {
					done <- err
					return
				}
			}
		}
		done <- nil
	}()
	busy := 0
	for i := range 20 {
		p, err := r.Sync(ctx, desired)
		if err != nil {
			t.Fatalf("Sync %d: %v", i, err)
		}
		if !p.Empty() {
			busy++
		}
	}
	t.Logf("%d of 20 Syncs read a table that skipped services", busy)
	wctx, wstop := context.WithTimeout(ctx, 10*time.Second)
	defer wstop()
	// The first read may miss some services, which a later one adds;
	// nothing is removed or changed, and nothing added twice.
	added := map[string]bool{}
	for e, err := range Watch(wctx, c, 100*time.Millisecond) {
		if err != nil {
			t.Fatal(err)
		}
		s := e.String()
		if e.Kind != EventKindServiceAdded && e.Kind != EventKindDestinationAdded || added[s] {
			t.Errorf("Watch reports %s, which nobody did", s)
			break
		}
		added[s] = true
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	after, err := c.VirtualServers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Compute(after, desired, Options{}); err != nil || !p.Empty() {
		t.Errorf("the table after the Syncs: %v\n%.2000s", err, p)
	}
}
