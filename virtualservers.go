package ipvs

import (
	"context"
	"errors"
	"iter"
	"sync"
)

// VirtualServer is a service with its destinations.
type VirtualServer struct {
	Service
	Destinations []Destination
}

// vsWindow is how many services AllVirtualServers holds at once.
const vsWindow = 64

// VirtualServers returns every service of the namespace with its
// destinations. See AllVirtualServers.
func (c *Client) VirtualServers(ctx context.Context) ([]VirtualServer, error) {
	return collect(opVirtualServers, c.AllVirtualServers(ctx))
}

// AllVirtualServers returns an iterator over the services of the
// namespace with their destinations: while one socket streams the
// service dump, others dump the destinations of a window of 64 services
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
// once, each on a socket of its own.
const vsWorkers = 3

// dumpDestinations fills in the destinations of each of vs, with dumps on
// several sockets at once.
//
// One socket can not carry several dumps: IPVS's dump callback returns
// the first chunk's length and signals the end only when called again,
// which the kernel does from recvmsg, so a dump with any destination is
// still running when the write that started it returns, and a second dump
// request in the same datagram fails with EBUSY.
func (c *Client) dumpDestinations(ctx context.Context, vs []VirtualServer) error {
	var wg sync.WaitGroup
	errs := make([]error, vsWorkers)
	for w := range vsWorkers {
		wg.Go(func() {
			for i := w; i < len(vs); i += vsWorkers {
				d, err := c.Destinations(ctx, vs[i].Service)
				if err != nil {
					errs[w] = err
					return
				}
				vs[i].Destinations = d
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
