package ipvs

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"
)

// VirtualServer is a service with its destinations.
type VirtualServer struct {
	Service
	Destinations []Destination
}

// vsWindow is how many services AllVirtualServers holds at once: enough
// that its workers seldom wait for each other at the window's end.
const vsWindow = 256

// VirtualServers returns every service of the namespace with its
// destinations. See AllVirtualServers.
func (c *Client) VirtualServers(ctx context.Context) ([]VirtualServer, error) {
	return collect(opVirtualServers, c.AllVirtualServers(ctx))
}

// AllVirtualServers returns an iterator over the services of the
// namespace with their destinations: while one socket streams the
// service dump, others dump the destinations of a window of 256 services
// at once. Memory stays bounded by that window.
//
// The kernel does not snapshot its table: what changes during the read
// may be missed or seen twice, and a service removed meanwhile is
// yielded with no destinations.
func (c *Client) AllVirtualServers(ctx context.Context) iter.Seq2[VirtualServer, error] {
	return func(yield func(VirtualServer, error) bool) {
		window := make([]VirtualServer, 0, vsWindow)
		flush := func() bool {
			if err := c.dumpDestinations(ctx, window); err != nil {
				yield(VirtualServer{}, err)
				return false
			}
			for _, vs := range window {
				if !yield(vs, nil) {
					return false
				}
			}
			window = window[:0]
			return true
		}
		for svc, err := range c.AllServices(ctx) {
			if err != nil {
				yield(VirtualServer{}, err)
				return
			}
			window = append(window, VirtualServer{Service: svc})
			if len(window) == cap(window) && !flush() {
				return
			}
		}
		if len(window) > 0 {
			flush()
		}
	}
}

// vsWorkers is how many destination dumps AllVirtualServers runs at
// once, each on a socket of its own. The kernel handles one Generic
// Netlink request at a time, so more would only wait; with three, one
// decodes while another waits and the kernel serves the third.
const vsWorkers = 3

// vsSlab is how many destinations a worker of dumpDestinations allocates
// at once, to share among the services it dumps.
const vsSlab = 256

// dumpDestinations fills in the destinations of each of vs, with dumps on
// several sockets at once. Each worker takes the next service not yet
// taken, so that one with many destinations holds up only its worker.
//
// One socket can not carry several dumps: IPVS's dump callback returns
// the first chunk's length and signals the end only when called again,
// which the kernel does from recvmsg, so a dump with any destination is
// still running when the write that started it returns, and a second dump
// request in the same datagram fails with EBUSY.
func (c *Client) dumpDestinations(ctx context.Context, vs []VirtualServer) error {
	var wg sync.WaitGroup
	var taken atomic.Int64
	errs := make([]error, vsWorkers)
	for w := range vsWorkers {
		wg.Go(func() {
			var scratch, slab []Destination
			for {
				i := int(taken.Add(1)) - 1
				if i >= len(vs) {
					return
				}
				var err error
				scratch, err = collectInto(opDests, scratch[:0], c.AllDestinations(ctx, vs[i].Service))
				if err != nil {
					errs[w] = err
					return
				}
				n := len(scratch)
				if n == 0 {
					vs[i].Destinations = []Destination{}
					continue
				}
				if len(slab) < n {
					slab = make([]Destination, max(vsSlab, n))
				}
				// Capped, so that a caller's append can not reach the
				// next service's destinations.
				vs[i].Destinations = slab[:n:n]
				copy(vs[i].Destinations, scratch)
				slab = slab[n:]
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
