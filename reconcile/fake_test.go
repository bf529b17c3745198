package reconcile

import (
	"context"
	"errors"
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
