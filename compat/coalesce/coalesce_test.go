package coalesce

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"reflect"
	"sync"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
)

func TestWriterConcurrent(t *testing.T) {
	ctx := context.Background()
	f := ipvstest.NewFake()
	c := f.Client(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	if err := c.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	var w Writer
	const callers, each = 16, 50
	errs := make([][]error, callers)
	var wg sync.WaitGroup
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				// Every destination is created twice: the second must
				// fail with its own error, however the writes were sent.
				d := ipvs.Destination{Address: netip.AddrFrom4([4]byte{192, 168, byte(g), byte(i / 2)}), Port: 80, Weight: 1}
				errs[g] = append(errs[g], w.Do(ctx, c, Op{Kind: CreateDestination, Service: svc, Destination: d}))
			}
		}()
	}
	wg.Wait()
	for g := range callers {
		for i, err := range errs[g] {
			if i%2 == 0 && err != nil {
				t.Errorf("caller %d, write %d: %v", g, i, err)
			}
			if i%2 == 1 && !errors.Is(err, os.ErrExist) {
				t.Errorf("caller %d, write %d: %v, want the duplicate's own error", g, i, err)
			}
		}
	}
	if got := len(f.VirtualServers()[0].Destinations); got != callers*each/2 {
		t.Errorf("%d destinations, want %d", got, callers*each/2)
	}
	if w.batches == 0 {
		t.Error("no write was coalesced")
	}
	t.Logf("%d writes, %d Applies of several", callers*each, w.batches)
}

func TestWriterAlone(t *testing.T) {
	ctx := context.Background()
	c := ipvstest.NewFake().Client(t)
	var w Writer
	for i := range 3 {
		svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)}), Port: 80, Scheduler: "rr"}
		if err := w.Do(ctx, c, Op{Kind: CreateService, Service: svc}); err != nil {
			t.Fatal(err)
		}
	}
	if w.batches != 0 {
		t.Errorf("%d writes alone went into batches", w.batches)
	}
}

// TestOpKinds checks that each kind of write does the same through its
// single call and through a batch: the two tables stay equal after each.
func TestOpKinds(t *testing.T) {
	ctx := context.Background()
	single, batched := ipvstest.NewFake(), ipvstest.NewFake()
	cs, cb := single.Client(t), batched.Client(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	updated := svc
	updated.Scheduler = "wlc"
	d := ipvs.Destination{Address: netip.MustParseAddr("192.168.0.1"), Port: 80, Weight: 1}
	heavier := d
	heavier.Weight = 3
	for _, op := range []Op{
		{Kind: CreateService, Service: svc},
		{Kind: UpdateService, Service: updated},
		{Kind: CreateDestination, Service: svc, Destination: d},
		{Kind: UpdateDestination, Service: svc, Destination: heavier},
		{Kind: RemoveDestination, Service: svc, Destination: d},
		{Kind: RemoveService, Service: svc},
	} {
		if err := op.single(ctx, cs); err != nil {
			t.Fatalf("kind %d, single: %v", op.Kind, err)
		}
		var b ipvs.Batch
		op.add(&b)
		if _, err := cb.Apply(ctx, &b); err != nil {
			t.Fatalf("kind %d, batch: %v", op.Kind, err)
		}
		if s, b := single.VirtualServers(), batched.VirtualServers(); !reflect.DeepEqual(s, b) {
			t.Fatalf("kind %d: single call made %+v, batch %+v", op.Kind, s, b)
		}
	}
	if err := (&Op{}).single(ctx, cs); err == nil {
		t.Error("a write of no kind was made")
	}
}
