//go:build integration && linux

package reconcile

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/netns"
)

// backend is a TCP server inside a namespace that holds every connection
// it accepts open until told to reset them.
type backend struct {
	mu    sync.Mutex
	conns []*net.TCPConn
}

func listen(t *testing.T, ns *netns.NS, addr string) *backend {
	t.Helper()
	if out, err := ns.Sh("ip addr add " + netip.MustParseAddrPort(addr).Addr().String() + "/32 dev lo"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	b := &backend{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			b.conns = append(b.conns, c.(*net.TCPConn))
			b.mu.Unlock()
		}
	}()
	return b
}

// reset ends the backend's connections with a RST, which IPVS expires
// within its 10 s CLOSE timeout, where a FIN would leave them in TIME_WAIT
// for two minutes.
func (b *backend) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.SetLinger(0)
		_ = c.Close()
	}
	b.conns = nil
}

// TestKernelDrain drains destinations with live TCP connections made over
// veth from a client namespace, across a restart of the reconciler: a
// drained destination stays at weight 0 while its connection lives and
// goes when it ends; a destination desired again after the restart gets
// its weight back.
func TestKernelDrain(t *testing.T) {
	director, c, ctx := kernelSetup(t)
	client, err := director.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	addrs := []string{"10.99.2.1:8080", "10.99.2.2:8080", "10.99.2.3:8080"}
	backends := map[string]*backend{}
	var all []ipvs.Destination
	for _, a := range addrs {
		backends[a] = listen(t, director, a)
		all = append(all, dst(a, 1))
	}
	svc := tcp("10.99.1.1", 80)
	r1 := NewReconciler(c, Options{})
	if _, err := r1.Sync(ctx, []ipvs.VirtualServer{vs(svc, all...)}); err != nil {
		t.Fatal(err)
	}
	// Round robin gives each destination one of three connections.
	var held []net.Conn
	t.Cleanup(func() {
		for _, h := range held {
			h.Close()
		}
	})
	if err := client.Do(func() error {
		for range addrs {
			h, err := net.DialTimeout("tcp", "10.99.1.1:80", 5*time.Second)
			if err != nil {
				return err
			}
			held = append(held, h)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	weights := func() map[string]ipvs.Destination {
		t.Helper()
		ds, err := c.Destinations(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]ipvs.Destination{}
		for _, d := range ds {
			m[d.String()] = d
		}
		return m
	}
	for a, d := range weights() {
		if d.ActiveConnections != 1 {
			t.Fatalf("%s has %d active connections, want 1", a, d.ActiveConnections)
		}
	}

	// Only the first stays desired: the other two drain.
	p, err := r1.Sync(ctx, []ipvs.VirtualServer{vs(svc, all[0])})
	if err != nil {
		t.Fatal(err)
	}
	if cs := p.Changes(); len(cs) != 2 || cs[0].Kind != KindDrainDestination || cs[1].Kind != KindDrainDestination {
		t.Fatalf("plan:\n%s", p)
	}

	// A restarted reconciler, told the third is desired again: it gets
	// its weight back, and the second drains on.
	r2 := NewReconciler(c, Options{})
	desired := []ipvs.VirtualServer{vs(svc, all[0], all[2])}
	if p, err = r2.Sync(ctx, desired); err != nil {
		t.Fatal(err)
	}
	if cs := p.Changes(); len(cs) != 1 || cs[0].Kind != KindUpdateDestination || cs[0].Destination.String() != addrs[2] {
		t.Fatalf("plan after the restart:\n%s", p)
	}
	for range 3 {
		if p, err = r2.Sync(ctx, desired); err != nil || !p.Empty() || len(p.Draining()) != 1 {
			t.Fatalf("plan while a connection lives: %v\n%s", err, p)
		}
	}
	w := weights()
	if w[addrs[0]].Weight != 1 || w[addrs[1]].Weight != 0 || w[addrs[2]].Weight != 1 {
		t.Fatalf("weights while draining: %v", w)
	}

	// The connection ends; the destination goes at the first plan after
	// the kernel has expired it.
	backends[addrs[1]].reset()
	deadline := time.Now().Add(40 * time.Second)
	for {
		if p, err = r2.Sync(ctx, desired); err != nil {
			t.Fatal(err)
		}
		if !p.Empty() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still draining after the connection ended: %v", weights()[addrs[1]])
		}
		time.Sleep(500 * time.Millisecond)
	}
	if cs := p.Changes(); len(cs) != 1 || cs[0].Kind != KindRemoveDestination || cs[0].Destination.String() != addrs[1] {
		t.Fatalf("plan after the connection ended:\n%s", p)
	}
	if w := weights(); len(w) != 2 {
		t.Errorf("destinations after the drain: %v", w)
	}
}
