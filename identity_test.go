package ipvs_test

import (
	"context"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/identitycases"
	"github.com/ipvs-go/ipvs/ipvstest"
	"github.com/ipvs-go/ipvs/reconcile"
)

// desiredOf returns the cases as a desired table: each service with its
// destination, and the settings a creation needs.
func desiredOf(cases []identitycases.Case) []ipvs.VirtualServer {
	out := make([]ipvs.VirtualServer, len(cases))
	for i, c := range cases {
		svc, d := c.Service, c.Destination
		svc.Scheduler, d.Weight = "rr", 1
		out[i] = ipvs.VirtualServer{Service: svc, Destinations: []ipvs.Destination{d}}
	}
	return out
}

// TestIdentity checks the shared identity table: the keys the library
// computes, and that the same key comes out of every path a service takes
// (a single call, a batch, the kernel's read-back through the client, and
// reconcile's planner), so that the CLI's and the exporter's tests of the
// same file agree with the library's.
func TestIdentity(t *testing.T) {
	cases := identitycases.Load(t)
	for _, c := range cases {
		if got := c.Service.Key(); got != c.Key {
			t.Errorf("%s: Key() = %#v, want %#v", c.Name, got, c.Key)
		}
		if got := c.Key.String(); got != c.Text {
			t.Errorf("%s: Key().String() = %q, want %q", c.Name, got, c.Text)
		}
		if got := c.Service.Canonical(); got.Key() != c.Key || got.Canonical() != got {
			t.Errorf("%s: Canonical() = %+v: its key or its own canonical form differs", c.Name, got)
		}
		if got := c.Destination.Key(c.Key); got != c.DestinationKey {
			t.Errorf("%s: destination Key() = %v, want %v", c.Name, got, c.DestinationKey)
		}
		if got := c.Destination.Canonical(c.Key); got.Key(c.Key) != c.DestinationKey || got.Canonical(c.Key) != got {
			t.Errorf("%s: destination Canonical() = %+v: its key or its own canonical form differs", c.Name, got)
		}
	}
	desired := desiredOf(cases)
	ctx := context.Background()

	t.Run("client", func(t *testing.T) {
		f := ipvstest.NewFake()
		c := f.Client(t)
		for _, vs := range desired {
			if err := c.CreateService(ctx, vs.Service); err != nil {
				t.Fatal(err)
			}
			if err := c.CreateDestination(ctx, vs.Service, vs.Destinations[0]); err != nil {
				t.Fatal(err)
			}
		}
		checkReadBack(t, cases, f, c)
		for _, tc := range cases {
			got, err := c.Service(ctx, tc.Service)
			if err != nil || got.Key() != tc.Key {
				t.Errorf("%s: Service() = %v, %v; want the service %v", tc.Name, got.Key(), err, tc.Key)
			}
		}
	})
	t.Run("batch", func(t *testing.T) {
		f := ipvstest.NewFake()
		c := f.Client(t)
		var b ipvs.Batch
		for _, vs := range desired {
			b.CreateService(vs.Service)
			b.CreateDestination(vs.Service, vs.Destinations[0])
		}
		if _, err := c.Apply(ctx, &b); err != nil {
			t.Fatal(err)
		}
		checkReadBack(t, cases, f, c)
	})
	t.Run("reconcile", func(t *testing.T) {
		f := ipvstest.NewFake()
		c := f.Client(t)
		p, err := reconcile.Compute(nil, desired, reconcile.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range p.Changes() {
			if ch.Kind == reconcile.KindCreateService && !hasKey(cases, ch.Service.Key()) {
				t.Errorf("plan creates %v, which no case expects", ch.Service.Key())
			}
		}
		if _, err := p.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
		checkReadBack(t, cases, f, c)
		current, err := c.VirtualServers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := reconcile.Compute(current, desired, reconcile.Options{}); err != nil || !p.Empty() {
			t.Errorf("the plan from the table as desired: %v\n%s", err, p)
		}
	})
}

func hasKey(cases []identitycases.Case, k ipvs.ServiceKey) bool {
	for _, c := range cases {
		if c.Key == k {
			return true
		}
	}
	return false
}

// checkReadBack checks that the table, as the client reads it back, holds
// each case's service under its key with its destination under its key.
func checkReadBack(t *testing.T, cases []identitycases.Case, f *ipvstest.Fake, c *ipvs.Client) {
	t.Helper()
	table, err := c.VirtualServers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(table) != len(cases) || len(f.VirtualServers()) != len(cases) {
		t.Fatalf("the table holds %d services, want %d:\n%v", len(table), len(cases), table)
	}
	for _, tc := range cases {
		found := false
		for _, vs := range table {
			if vs.Service.Key() != tc.Key {
				continue
			}
			found = true
			if len(vs.Destinations) != 1 || vs.Destinations[0].Key(tc.Key) != tc.DestinationKey {
				t.Errorf("%s: destinations read back %v, want %v", tc.Name, vs.Destinations, tc.DestinationKey)
			}
		}
		if !found {
			t.Errorf("%s: no service %v read back", tc.Name, tc.Key)
		}
	}
}
