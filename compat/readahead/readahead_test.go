package readahead

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// table makes n services with one destination each, of weight 1, and
// returns a client of the model, the services as listed, and another
// client that stands for another process.
func table(t *testing.T, n int) (*ipvs.Client, []ipvs.Service, *ipvs.Client) {
	t.Helper()
	return tableOn(t, ipvstest.NewFake(), n)
}

// tableOn is table on the model f.
func tableOn(t *testing.T, f *ipvstest.Fake, n int) (*ipvs.Client, []ipvs.Service, *ipvs.Client) {
	t.Helper()
	ctx := context.Background()
	c, other := f.Client(t), f.Client(t)
	for i := range n {
		svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Port: 80, Scheduler: "rr"}
		if err := c.CreateService(ctx, svc); err != nil {
			t.Fatal(err)
		}
		if err := c.CreateDestination(ctx, svc, dest(1)); err != nil {
			t.Fatal(err)
		}
	}
	svcs, err := c.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c, svcs, other
}

func dest(weight uint32) ipvs.Destination {
	return ipvs.Destination{Address: netip.MustParseAddr("192.168.0.1"), Port: 80, Weight: weight}
}

// weight returns the weight of svc's destination, from the walk when it
// answers (served), else read from the kernel.
func weight(t *testing.T, w *Walk, c *ipvs.Client, svc ipvs.Service) (weight uint32, served bool) {
	t.Helper()
	ds, ok := w.Destinations(context.Background(), c, svc)
	if !ok {
		var err error
		if ds, err = c.Destinations(context.Background(), svc); err != nil {
			t.Fatal(err)
		}
	}
	if len(ds) != 1 {
		t.Fatalf("%d destinations", len(ds))
	}
	return ds[0].Weight, ok
}

func TestWalk(t *testing.T) {
	c, svcs, other := table(t, 5)
	var w Walk
	if _, ok := w.Destinations(context.Background(), c, svcs[0]); ok {
		t.Fatal("answered before any listing")
	}
	w.List(svcs)
	if _, served := weight(t, &w, c, svcs[0]); served {
		t.Error("the first listed service was answered from a snapshot; one lookup must not read the table")
	}
	if _, served := weight(t, &w, c, svcs[1]); !served {
		t.Error("the second listed service was not answered from the snapshot")
	}
	// Another process's write during the walk is not seen; the walk's
	// own write is, made through Write.
	if err := other.UpdateDestination(context.Background(), svcs[2], dest(7)); err != nil {
		t.Fatal(err)
	}
	if got, served := weight(t, &w, c, svcs[2]); !served || got != 1 {
		t.Errorf("service 2: weight %d, served %v; want the snapshot's 1", got, served)
	}
	if err := w.Write(svcs[3], func() error { return c.UpdateDestination(context.Background(), svcs[3], dest(9)) }); err != nil {
		t.Fatal(err)
	}
	if got, served := weight(t, &w, c, svcs[3]); served || got != 9 {
		t.Errorf("service 3 after a write: weight %d, served %v; want 9 from the kernel", got, served)
	}
	// Each entry serves once.
	if got, served := weight(t, &w, c, svcs[2]); served || got != 7 {
		t.Errorf("service 2 again: weight %d, served %v; want 7 from the kernel", got, served)
	}
	// A write to every service (a flush) ends the walk.
	if err := w.WriteAll(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, served := weight(t, &w, c, svcs[4]); served {
		t.Error("served after WriteAll")
	}
}

func TestWalkLimits(t *testing.T) {
	c, svcs, _ := table(t, 4)
	for name, age := range map[string]func(w *Walk){
		"idle":    func(w *Walk) { w.last = w.last.Add(-Idle - time.Millisecond) },
		"max age": func(w *Walk) { w.read = w.read.Add(-MaxAge - time.Millisecond) },
	} {
		var w Walk
		w.List(svcs)
		weight(t, &w, c, svcs[0])
		weight(t, &w, c, svcs[1])
		if _, served := weight(t, &w, c, svcs[2]); !served {
			t.Fatalf("%s: the walk was not read ahead", name)
		}
		age(&w)
		if _, served := weight(t, &w, c, svcs[3]); served {
			t.Errorf("%s: served from a snapshot past its limit", name)
		}
	}
}

// TestWalkUnlisted checks that only services of the listing count: a
// program that looks up services it never listed reads each itself.
func TestWalkUnlisted(t *testing.T) {
	c, svcs, _ := table(t, 3)
	var w Walk
	w.List(svcs[:1])
	weight(t, &w, c, svcs[1])
	if _, served := weight(t, &w, c, svcs[2]); served {
		t.Error("unlisted services triggered the read-ahead")
	}
}

// TestWalkSlowRead pins that the walk's pauses count from the end of the
// read: on a large table the read itself may last longer than Idle. The
// read is slowed, and the clock sped up, so that it lasts about twice Idle
// while the calls around it take far less.
func TestWalkSlowRead(t *testing.T) {
	f := ipvstest.NewFake()
	c, svcs, _ := tableOn(t, f, 4)
	start := time.Now()
	now = func() time.Time { return start.Add(time.Since(start) * 50) }
	defer func() { now = time.Now }()
	var w Walk
	w.List(svcs)
	weight(t, &w, c, svcs[0])
	f.Inject(ipvstest.Fault{Op: ipvstest.OpGetServices, Times: 1, Delay: 2 * Idle / 50})
	weight(t, &w, c, svcs[1]) // the read
	if _, served := weight(t, &w, c, svcs[2]); !served {
		t.Error("the snapshot was dropped for the time its own read took")
	}
}

// TestWalkWriteDuringRead pins the order of a write and the dropping of
// its service's entry. The drop-ins are safe for concurrent use: while one
// goroutine writes to a service, another's walk may read the snapshot,
// after the write began and before the kernel applied it. The entry
// dropped before the write, that read would put the old state back, and
// the writer would read it after its write had returned.
func TestWalkWriteDuringRead(t *testing.T) {
	ctx := context.Background()
	c, svcs, _ := table(t, 3)
	var w Walk
	w.List(svcs)
	err := w.Write(svcs[0], func() error {
		// Another goroutine's walk, to the read, while this write is
		// under way: the snapshot holds service 0 as it was.
		weight(t, &w, c, svcs[1])
		if _, served := weight(t, &w, c, svcs[2]); !served {
			t.Fatal("the walk did not read ahead")
		}
		return c.UpdateDestination(ctx, svcs[0], dest(5))
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, served := weight(t, &w, c, svcs[0]); got != 5 {
		t.Errorf("service 0 after its write returned: weight %d (served from the snapshot: %v); want 5", got, served)
	}
}

// TestWalkServiceForms checks that a service is found whatever form of
// its identity names it: a write naming an IPv4 service by the IPv4-mapped
// form of its address (what net.IP gives, and the library accepts) drops
// the entry of the service as the kernel lists it, and a lookup in that
// form is served.
func TestWalkServiceForms(t *testing.T) {
	ctx := context.Background()
	c, svcs, _ := table(t, 4)
	mapped := func(s ipvs.Service) ipvs.Service {
		s.Address = netip.AddrFrom16(s.Address.As16())
		return s
	}
	var w Walk
	w.List(svcs)
	weight(t, &w, c, svcs[0])
	if _, served := weight(t, &w, c, svcs[1]); !served {
		t.Fatal("the walk did not read ahead")
	}
	if _, served := weight(t, &w, c, mapped(svcs[2])); !served {
		t.Error("a listed service named by its IPv4-mapped address was not served")
	}
	if err := w.Write(mapped(svcs[3]), func() error { return c.UpdateDestination(ctx, mapped(svcs[3]), dest(6)) }); err != nil {
		t.Fatal(err)
	}
	if got, served := weight(t, &w, c, svcs[3]); got != 6 {
		t.Errorf("service 3 after a write naming it by its IPv4-mapped address: weight %d (served from the snapshot: %v); want 6", got, served)
	}
}
