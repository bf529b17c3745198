package ipvs

import (
	"cmp"
	"context"
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

// vsFetchers is how many destination dumps AllVirtualServers runs at
// once, each on a socket of its own. The kernel handles one Generic
// Netlink request at a time, so more would only wait; with three, one
// makes its next request and another reads its reply while the kernel
// serves the third. (The read's cost is in BENCHMARKS.md.)
const vsFetchers = 3

// vsHandOver is how many services' replies a fetcher hands over at
// once.
const vsHandOver = 16

// vsSlab is how many destinations dumpDestinations allocates at once, to
// share among the services it dumps.
const vsSlab = 256

// fetched is the reply to one service's destination dump: the payload of
// each message, copied out of the socket's buffer, or the error.
type fetched struct {
	i    int
	msgs [][]byte
	err  error
}

// dumpDestinations fills in the destinations of each of vs. Fetchers only
// move bytes, each on a socket of its own: they take the next service not
// yet taken (so that one with many destinations holds up only its
// fetcher), dump its destinations and copy the replies aside; this
// goroutine decodes them meanwhile. The first error ends the rest.
//
// One socket can not carry several dumps: IPVS's dump callback returns
// the first chunk's length and signals the end only when called again,
// which the kernel does from recvmsg, so a dump with any destination is
// still running when the write that started it returns, and a second dump
// request in the same datagram fails with EBUSY.
func (c *Client) dumpDestinations(ctx context.Context, vs []VirtualServer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(chan []fetched, 2*vsFetchers)
	var taken atomic.Int64
	var wg sync.WaitGroup
	for range vsFetchers {
		wg.Go(func() {
			bytes := slab[byte]{chunk: 64 << 10}
			var msgs slab[[]byte]
			var batch []fetched
			for {
				i := int(taken.Add(1)) - 1
				if i >= len(vs) {
					if len(batch) > 0 {
						out <- batch
					}
					return
				}
				f := fetched{i: i}
				f.err = call(ctx, c, reqDestinations, serviceRef(vs[i].Service), func(p []byte) error {
					if len(f.msgs) == maxCollected {
						return errTooLarge
					}
					m := bytes.take(len(p))
					copy(m, p)
					f.msgs = msgs.append(f.msgs, m)
					return nil
				})
				// Handed over a few at a time: waking the decoder costs more
				// than decoding one service.
				batch = append(batch, f)
				if len(batch) == vsHandOver || f.err != nil {
					out <- batch // the loop below takes every batch, even after an error
					batch = nil
				}
				if f.err != nil {
					return
				}
			}
		})
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	var err error
	var dests slab[Destination]
	for batch := range out {
		for _, f := range batch {
			if err != nil {
				break // the fetchers are stopping
			}
			if err = f.err; err == nil {
				vs[f.i].Destinations, err = decodeDestinations(&dests, f.msgs, vs[f.i].Service)
			}
			if err != nil {
				cancel()
			}
		}
	}
	return err
}

// decodeDestinations decodes the replies of a destination dump of svc into
// destinations from the slab.
func decodeDestinations(s *slab[Destination], msgs [][]byte, svc Service) ([]Destination, error) {
	ds := s.take(len(msgs))
	fam := svc.key().Family
	for j, p := range msgs {
		if err := decodeDestinationReply(p, fam, &ds[j]); err != nil {
			return nil, wrap(reqDestinations, serviceRef(svc), decodeError(err))
		}
	}
	return ds, nil
}

// slab hands out slices of larger arrays, so that many small ones cost a
// few allocations; each slice is capped, so that appending to one can not
// reach the next.
type slab[T any] struct {
	free  []T
	chunk int // how many to allocate at once; 0 is vsSlab
}

func (s *slab[T]) take(n int) []T {
	if n == 0 {
		return []T{}
	}
	if len(s.free) < n {
		s.free = make([]T, max(cmp.Or(s.chunk, vsSlab), n))
	}
	t := s.free[:n:n]
	s.free = s.free[n:]
	return t
}

// append appends v to t, which came from the slab or is nil, moving t to
// the slab when it is full.
func (s *slab[T]) append(t []T, v T) []T {
	if len(t) < cap(t) {
		return append(t, v)
	}
	grown := s.take(max(2*len(t), 4))
	copy(grown, t)
	grown = grown[:len(t)]
	return append(grown, v)
}
