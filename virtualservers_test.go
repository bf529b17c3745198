package ipvs

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// vsKernel serves n services, service i with i%5 destinations.
func vsKernel(t *testing.T, n int) (*fakekernel.Kernel, []VirtualServer) {
	var want []VirtualServer
	for i := range n {
		vs := VirtualServer{Service: manyServices(n)[i], Destinations: []Destination{}}
		for j := range i % 5 {
			vs.Destinations = append(vs.Destinations, Destination{Family: FamilyIPv4, Address: netip.AddrFrom4([4]byte{10, 2, byte(i), byte(j)}), Port: 80, Weight: uint32(j)})
		}
		want = append(want, vs)
	}
	k := newFakeKernel(t, func(req *fakekernel.Request) fakekernel.Answer {
		var r fakekernel.Answer
		switch req.Cmd {
		case ipvsh.CmdGetService:
			for _, vs := range want {
				r.Msgs = append(r.Msgs, kernelService(vs.Service, fakekernel.Options{}))
			}
		case ipvsh.CmdGetDest:
			var key Service
			if err := decodeServiceReply(req.Attrs, &key); err != nil {
				t.Errorf("GET_DEST request: %v", err)
			}
			i := int(key.Address.As4()[2])<<8 | int(key.Address.As4()[3])
			for _, d := range want[i].Destinations {
				r.Msgs = append(r.Msgs, kernelDestination(d, fakekernel.Options{}))
			}
		}
		return r
	})
	return k, want
}

func TestVirtualServers(t *testing.T) {
	k, want := vsKernel(t, 150)
	got, err := testClient(t, k).VirtualServers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpOpts...); diff != "" {
		t.Fatalf("unexpected virtual servers (-want +got):\n%s", diff)
	}
	// One dump of services, one of destinations per service.
	if k.Writes() != 151 {
		t.Errorf("%d datagrams for 150 services, want 151", k.Writes())
	}
}

func TestVirtualServersError(t *testing.T) {
	k, _ := vsKernel(t, 10)
	inner := k.Handler()
	k.SetHandler(func(req *fakekernel.Request) fakekernel.Answer {
		if req.Cmd == ipvsh.CmdGetDest {
			return fakekernel.Answer{Errno: syscall.EPERM}
		}
		return inner(req)
	})
	_, err := testClient(t, k).VirtualServers(context.Background())
	if !errors.Is(err, syscall.EPERM) {
		t.Fatalf("got %v, want EPERM", err)
	}
}

func TestAllVirtualServersBreak(t *testing.T) {
	k, _ := vsKernel(t, 100)
	c := testClient(t, k)
	n := 0
	for _, err := range c.AllVirtualServers(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	// The next read works, on sockets in step.
	got, err := c.VirtualServers(context.Background())
	if err != nil || len(got) != 100 {
		t.Fatalf("after a broken-off read: %d, %v", len(got), err)
	}
}

// TestVirtualServersBadDestination checks that a destination reply that
// does not decode fails the read with the service named, and that a
// context canceled during the read ends it with the context's error.
func TestVirtualServersBadDestination(t *testing.T) {
	k, _ := vsKernel(t, 300)
	inner := k.Handler()
	k.SetHandler(func(req *fakekernel.Request) fakekernel.Answer {
		r := inner(req)
		if req.Cmd == ipvsh.CmdGetDest && len(r.Msgs) == 4 {
			// A DEST attribute whose one attribute is too short.
			r.Msgs[2] = []byte{ipvsh.CmdNewDest, 1, 0, 0, 8, 0, ipvsh.CmdAttrDest, 0x80, 3, 0, 1, 0}
		}
		return r
	})
	_, err := testClient(t, k).VirtualServers(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Op != opDests || !strings.Contains(err.Error(), "decode reply") || e.Object == "" {
		t.Fatalf("got %v, want a decode error of a destination dump naming its service", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	k.SetHandler(func(req *fakekernel.Request) fakekernel.Answer {
		if req.Cmd == ipvsh.CmdGetDest && req.Attrs != nil {
			cancel()
		}
		return inner(req)
	})
	if _, err := testClient(t, k).VirtualServers(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
