package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// TestFakeConvergeProperty: for random desired tables, applying the plan
// through a real client and planning again yields an empty plan; a
// converged table costs one read and no write.
func TestFakeConvergeProperty(t *testing.T) {
	f := ipvstest.NewFake()
	c := f.Client(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 200 {
		desired := randomTable(rng)
		p, err := NewPlan(ctx, c, desired, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Apply(ctx, c); err != nil {
			t.Fatalf("round %d: %v\nplan:\n%s", round, err, p)
		}
		before := f.Requests()
		again, err := NewPlan(ctx, c, desired, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !again.Empty() {
			t.Fatalf("round %d: plan after applying:\n%s\nfirst plan:\n%s", round, again, p)
		}
		if _, err := again.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
		// One read: a service dump, and a destination dump per service.
		if got, want := f.Requests()-before, 1+len(f.VirtualServers()); got != want {
			t.Fatalf("round %d: a converged sync made %d requests, want %d", round, got, want)
		}
	}
}

// TestFakeRefusedWrites: a refused write is reported with its change, the
// others are applied, and the next plan holds only what is left.
func TestFakeRefusedWrites(t *testing.T) {
	f := ipvstest.NewFake()
	c := f.Client(t)
	ctx := context.Background()
	svc := tcp("10.0.0.1", 80)
	desired := []ipvs.VirtualServer{vs(svc, dst("10.1.0.1:80", 1), dst("10.1.0.2:80", 1), dst("10.1.0.3:80", 1))}
	f.Inject(ipvstest.Fault{Op: ipvstest.OpCreateDestination, Destination: "10.1.0.2:80", Times: 1, Errno: syscall.ENOMEM})
	p, err := NewPlan(ctx, c, desired, Options{})
	if err != nil {
		t.Fatal(err)
	}
	results, err := p.Apply(ctx, c)
	var ce *ChangeError
	if !errors.As(err, &ce) || !errors.Is(err, syscall.ENOMEM) || ce.Change.Destination.String() != "10.1.0.2:80" {
		t.Fatalf("Apply: %v", err)
	}
	// The change names the object once; the client's error would again.
	if got, want := ce.Error(), "reconcile: create destination 10.1.0.2:80 of tcp 10.0.0.1:80: not in the table (masq, weight 1): cannot allocate memory"; got != want {
		t.Errorf("the change's error\n%s\nwant\n%s", got, want)
	}
	for i, r := range results {
		if (r != nil) != (i == 2) {
			t.Errorf("result %d (%s): %v", i, p.Changes()[i], r)
		}
	}
	p, err = NewPlan(ctx, c, desired, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, p, "create destination 10.1.0.2:80 of tcp 10.0.0.1:80: not in the table (masq, weight 1)")
}

// TestFakeDrain drains a destination on the connection counts the model
// reports.
func TestFakeDrain(t *testing.T) {
	f := ipvstest.NewFake()
	c := f.Client(t)
	ctx := context.Background()
	svc := tcp("10.0.0.1", 80)
	keep, leave := dst("10.1.0.1:80", 1), dst("10.1.0.2:80", 1)
	r := NewReconciler(c, Options{})
	if _, err := r.Sync(ctx, []ipvs.VirtualServer{vs(svc, keep, leave)}); err != nil {
		t.Fatal(err)
	}
	if err := f.SetConnections(svc, leave, 2, 1, 0); err != nil {
		t.Fatal(err)
	}
	desired := []ipvs.VirtualServer{vs(svc, keep)}
	for range 2 {
		if _, err := r.Sync(ctx, desired); err != nil {
			t.Fatal(err)
		}
		if ds := f.VirtualServers()[0].Destinations; len(ds) != 2 || weightOf(ds, "10.1.0.2:80") != 0 {
			t.Fatalf("table while draining: %v", ds)
		}
	}
	if err := f.SetConnections(svc, leave, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Sync(ctx, desired); err != nil {
		t.Fatal(err)
	}
	if ds := f.VirtualServers()[0].Destinations; len(ds) != 1 {
		t.Fatalf("table after the drain: %v", ds)
	}
}

func weightOf(ds []ipvs.Destination, name string) int {
	for _, d := range ds {
		if d.String() == name {
			return int(d.Weight)
		}
	}
	return -1
}

// TestFakeConcurrent runs a reconcile loop, a Watch and readers on one
// Client at once; go test -race checks them.
func TestFakeConcurrent(t *testing.T) {
	f := ipvstest.NewFake()
	c := f.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r := NewReconciler(c, Options{DrainTimeout: time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	stop := make(chan struct{})
	for g := range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch g {
				case 0:
					_, err = c.VirtualServers(ctx)
				case 1:
					_, err = c.Services(ctx)
				case 2:
					_, err = r.Plan(ctx, nil)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	watched := make(chan int)
	wctx, wcancel := context.WithCancel(ctx)
	go func() {
		n := 0
		for _, err := range Watch(wctx, c, time.Millisecond) {
			if err != nil {
				errs <- err
				break
			}
			n++
		}
		watched <- n
	}()
	rng := rand.New(rand.NewPCG(7, 8))
	var syncs sync.WaitGroup
	for range 2 { // two loops on one Reconciler: Sync serializes them
		seed := rng.Uint64()
		syncs.Go(func() {
			rng := rand.New(rand.NewPCG(seed, 1))
			for range 40 {
				if _, err := r.Sync(ctx, randomTable(rng)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	syncs.Wait()
	close(stop)
	wg.Wait()
	wcancel()
	if n := <-watched; n == 0 {
		t.Error("Watch saw no change")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFakeWatch: Watch yields the table as added, then each change.
func TestFakeWatch(t *testing.T) {
	f := ipvstest.NewFake()
	c := f.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	svc := tcp("10.0.0.1", 80)
	if err := c.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"service added tcp 10.0.0.1:80",
		"destination added 10.1.0.1:80 of tcp 10.0.0.1:80",
		"destination changed 10.1.0.1:80 of tcp 10.0.0.1:80: weight 1 -> 3",
		"destination removed 10.1.0.1:80 of tcp 10.0.0.1:80",
		"service removed tcp 10.0.0.1:80",
	}
	var got []string
	step := 0
	for e, err := range Watch(ctx, c, time.Millisecond) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.String())
		if e.String() != want[len(got)-1] {
			t.Fatalf("events %q, want %q", got, want[:len(got)])
		}
		// Each change is made once the previous one has been seen; the
		// counters change too, and must not show.
		switch step++; step {
		case 1:
			err = c.CreateDestination(ctx, svc, dst("10.1.0.1:80", 1))
		case 2:
			_ = f.SetConnections(svc, dst("10.1.0.1:80", 0), 5, 5, 5)
			err = c.UpdateDestination(ctx, svc, dst("10.1.0.1:80", 3))
		case 3:
			err = c.RemoveService(ctx, svc)
		}
		if err != nil {
			t.Fatal(err)
		}
		if step == len(want) {
			break
		}
	}
	if len(got) != len(want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

// TestFakeApplyErrorBounded: the error of a plan of many thousand writes
// that all fail, refused or never sent, stays a few lines long, while
// every failed change is reachable through it.
func TestFakeApplyErrorBounded(t *testing.T) {
	desired := benchTable(2000, 5, 1)
	for _, tc := range []struct {
		name   string
		fault  ipvstest.Fault
		cancel bool
		failed int
		is     error
	}{
		{"refused", ipvstest.Fault{Op: ipvstest.OpCreateDestination, Errno: syscall.ENOMEM}, false, 10000, syscall.ENOMEM},
		{"not sent", ipvstest.Fault{}, true, 12000, ipvs.ErrNotSent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := ipvstest.NewFake()
			if tc.fault.Errno != 0 {
				f.Inject(tc.fault)
			}
			c := f.Client(t)
			p, err := NewPlan(context.Background(), c, desired, Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			}
			defer cancel()
			_, err = p.Apply(ctx, c)
			var ae *ApplyError
			if !errors.As(err, &ae) || ae.Failed != tc.failed || len(ae.Changes) != tc.failed || ae.Total != 12000 {
				t.Fatalf("Apply: %T with %d failed, want an *ApplyError with %d of 12000", err, len(ae.Changes), tc.failed)
			}
			if n := len(err.Error()); n > 2000 {
				t.Errorf("the error's text is %d bytes for %d failed changes: %.300s...", n, ae.Failed, err)
			}
			var ce *ChangeError
			if !errors.As(err, &ce) || !errors.Is(err, tc.is) || (tc.cancel != errors.Is(err, context.Canceled)) {
				t.Errorf("Apply's error %v: the changes' errors and the cause are not all reachable", err)
			}
			t.Log(err)
		})
	}
}

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
