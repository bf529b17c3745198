package reconcile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// Sync, Diff and Watch while other programs change the table: the
// kernel's dumps then skip or repeat objects (ipvstest's Fault.Shift
// makes them do so here).

// skewedTable makes n services of d destinations in f through c, and
// returns them as desired.
func skewedTable(t *testing.T, c *ipvs.Client, n, d int) []ipvs.VirtualServer {
	t.Helper()
	desired := benchTable(n, d, 1)
	if _, err := NewReconciler(c, Options{}).Sync(context.Background(), desired); err != nil {
		t.Fatal(err)
	}
	return desired
}

// TestFakeSyncReadSkipped: a Sync whose read skipped services or
// destinations (the kernel's dumps do while other programs remove
// services, in any namespace) plans to create them, meets EEXIST, reads
// them again, and is done: no error, and a skipped object whose settings
// differ from the desired ones is updated.
func TestFakeSyncReadSkipped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n, d  int
		fault ipvstest.Fault
	}{
		{"services", 300, 1, ipvstest.Fault{Op: ipvstest.OpGetServices, Shift: 4, Times: 1}},
		{"destinations", 1, 80, ipvstest.Fault{Op: ipvstest.OpGetDestinations, Shift: 3, Times: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ipvstest.NewFake()
			c := f.Client(t)
			desired := skewedTable(t, c, tc.n, tc.d)
			before := f.VirtualServers()
			// The last service and destination want other settings.
			last := &desired[len(desired)-1]
			last.Service.Scheduler = "wlc"
			last.Destinations[len(last.Destinations)-1].Weight = 7
			f.Inject(tc.fault)
			p, err := NewReconciler(c, Options{}).Sync(context.Background(), desired)
			if err != nil {
				t.Fatalf("Sync: %v\nplan:\n%s", err, p)
			}
			created := 0
			for _, ch := range p.Changes() {
				if ch.Kind == KindCreateService || ch.Kind == KindCreateDestination {
					created++
				}
			}
			if created == 0 {
				t.Fatalf("the fault skipped nothing: plan\n%s", p)
			}
			after := f.VirtualServers()
			if len(after) != len(before) {
				t.Fatalf("%d services after the Sync, want %d", len(after), len(before))
			}
			if p, err := Compute(after, desired, Options{}); err != nil || !p.Empty() {
				t.Errorf("the table after the Sync is not as desired: %v\n%s", err, p)
			}
		})
	}
}

// TestFakeDiffReadSkipped: a read that skipped objects shows them
// removed, and confirm finds them; a read that listed some twice shows
// nothing.
func TestFakeDiffReadSkipped(t *testing.T) {
	f := ipvstest.NewFake()
	c := f.Client(t)
	ctx := context.Background()
	skewedTable(t, c, 300, 30)
	prev, err := c.VirtualServers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ft := range []ipvstest.Fault{
		{Op: ipvstest.OpGetServices, Shift: 4, Times: 1},
		{Op: ipvstest.OpGetDestinations, Shift: 3, Times: 1},
		{Op: ipvstest.OpGetServices, Shift: -4, Times: 1},
		{Op: ipvstest.OpGetDestinations, Shift: -3, Times: 1},
	} {
		f.Inject(ft)
		next, err := c.VirtualServers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ft.Shift > 0 && len(Diff(prev, next)) == 0 {
			t.Fatalf("shift %d of %v: the read skipped nothing", ft.Shift, ft.Op)
		}
		next, err = confirm(ctx, c, prev, next)
		if err != nil {
			t.Fatal(err)
		}
		if d := Diff(prev, next); len(d) != 0 {
			t.Errorf("shift %d of %v: differences %v", ft.Shift, ft.Op, d)
		}
	}
}

// TestFakeWatchReadSkipped: Watch reports nothing that nobody did while
// its reads skip objects or list them twice.
func TestFakeWatchReadSkipped(t *testing.T) {
	f := ipvstest.NewFake()
	c := f.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	desired := skewedTable(t, c, 300, 2)
	faults := []ipvstest.Fault{
		{Op: ipvstest.OpGetServices, Shift: 4, Times: 1},
		{Op: ipvstest.OpGetServices, Shift: -4, Times: 1},
		{Op: ipvstest.OpGetDestinations, Shift: 1, Times: 1},
	}
	added := 0
	for e, err := range Watch(ctx, c, time.Millisecond) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != EventKindServiceAdded && e.Kind != EventKindDestinationAdded {
			t.Fatalf("event %v, which nobody did", e)
		}
		if e.Kind != EventKindServiceAdded {
			continue
		}
		// After the first read, and after each marker service shows that
		// a read under the last fault has been compared, the next fault,
		// then a marker.
		if added++; added < len(desired) {
			continue
		}
		m := added - len(desired)
		if m == len(faults) {
			return
		}
		f.Inject(faults[m])
		if err := c.CreateService(ctx, tcp(fmt.Sprintf("10.9.9.%d", m), 80)); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("Watch ended after %d services added: %v", added, ctx.Err())
}
