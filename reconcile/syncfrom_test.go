package reconcile

import (
	"context"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// TestSyncFromUnread: a sync from a table the caller knows reads
// nothing; a destination no longer desired drains, its connections
// unknown, unless its policy removes it at once; the next Sync, which
// reads the table, removes the drained one once it has no connections.
func TestSyncFromUnread(t *testing.T) {
	f := ipvstest.NewFake()
	c := f.Client(t)
	ctx := context.Background()
	r := NewReconciler(c, Options{})
	web, dns := tcp("10.0.0.1", 80), udp("10.0.0.1", 53)
	before := []ipvs.VirtualServer{vs(web, dst("10.1.0.1:80", 1), dst("10.1.0.2:80", 1)), vs(dns, dst("10.1.0.1:53", 1), dst("10.1.0.2:53", 1))}
	if _, err := r.Sync(ctx, before); err != nil {
		t.Fatal(err)
	}
	after := []ipvs.VirtualServer{vs(web, dst("10.1.0.1:80", 1)), vs(dns, dst("10.1.0.1:53", 1))}
	for _, op := range []ipvstest.Op{ipvstest.OpGetServices, ipvstest.OpGetDestinations} {
		f.Inject(ipvstest.Fault{Op: op, Errno: syscall.EIO})
	}
	p, err := r.SyncFrom(ctx, before, after)
	if err != nil {
		t.Fatalf("%v\nplan:\n%s", err, p)
	}
	var kinds []Kind
	for _, ch := range p.Changes() {
		kinds = append(kinds, ch.Kind)
	}
	if want := []Kind{KindDrainDestination, KindRemoveDestination}; !slices.Equal(kinds, want) {
		t.Fatalf("plan:\n%swant %v", p, want)
	}
	f.ClearFaults()
	if got := weights(f.VirtualServers()); !slices.Equal(got, []string{"10.1.0.1:53/1", "10.1.0.1:80/1", "10.1.0.2:80/0"}) {
		t.Fatalf("table after the sync from the known table: %q", got)
	}
	if _, err := r.Sync(ctx, after); err != nil {
		t.Fatal(err)
	}
	if got := weights(f.VirtualServers()); !slices.Equal(got, []string{"10.1.0.1:53/1", "10.1.0.1:80/1"}) {
		t.Fatalf("table after the next sync: %q", got)
	}
}

// weights returns the destinations of table as "ADDRESS:PORT/WEIGHT",
// sorted.
func weights(table []ipvs.VirtualServer) []string {
	var out []string
	for _, vs := range table {
		for _, d := range vs.Destinations {
			out = append(out, d.String()+"/"+strconv.Itoa(int(d.Weight)))
		}
	}
	slices.Sort(out)
	return out
}
