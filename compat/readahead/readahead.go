// Package readahead lets the drop-ins for moby/ipvs and cloudflare/ipvs
// (compat/moby, compat/cloudflare) answer a walk over the table from the
// library's batch read. Their programs list the services, then ask for
// the destinations of each in turn, one dump per service; once a walk
// asks for a second listed service, a Walk reads every service's
// destinations in one pass (Client.VirtualServers, which overlaps the
// dumps) and answers the rest of the walk from that snapshot, each entry
// once.
//
// What a program sees changes only in time: a service's destinations
// are those of the moment of the read, a little before the call, while
// the walk goes on; the snapshot is dropped when the walk pauses for Idle
// or has lasted MaxAge. A write through the drop-in (Write) drops the
// entry of the service it touches once the write has returned, so a
// program always reads its own writes, even when another of its
// goroutines read the snapshot while the write was under way; another
// process's write made during the walk is seen a walk later, as it would
// be had the walk run a moment earlier.
//
// It serves the drop-ins and makes no promise of compatibility to others.
package readahead

import (
	"context"
	"sync"
	"time"

	"github.com/ipvs-go/ipvs"
)

// The limits of a snapshot: it serves the walk that asked for it, and is
// gone once the walk pauses for Idle or has lasted MaxAge since the read.
const (
	Idle   = time.Second
	MaxAge = 5 * time.Second
)

// Walk holds the read-ahead of one drop-in client. Its zero value is
// ready; it is safe for concurrent use.
type Walk struct {
	mu sync.Mutex
	// Services are told apart by the library's identity (Service.Key),
	// so that a service named in any form the library accepts (an IPv4
	// address in its IPv4-mapped form, say) finds its entry.
	listed map[ipvs.ServiceKey]bool // the last List, until the read
	asked  int                      // listed services asked for since then
	snap   map[ipvs.ServiceKey][]ipvs.Destination
	read   time.Time // when snap was read
	last   time.Time // the last call snap served
}

// List arms the read-ahead with the services a listing returned.
func (w *Walk) List(svcs []ipvs.Service) {
	listed := make(map[ipvs.ServiceKey]bool, len(svcs))
	for i := range svcs {
		listed[svcs[i].Key()] = true
	}
	w.mu.Lock()
	w.listed, w.asked, w.snap = listed, 0, nil
	w.mu.Unlock()
}

// Destinations returns the destinations of svc from the snapshot, reading
// it through c first if this is the second listed service asked for; ok
// is false when the caller must read them itself.
func (w *Walk) Destinations(ctx context.Context, c *ipvs.Client, svc ipvs.Service) (dests []ipvs.Destination, ok bool) {
	k := svc.Key()
	w.mu.Lock()
	defer w.mu.Unlock()
	t := now()
	if w.snap != nil && (t.Sub(w.last) > Idle || t.Sub(w.read) > MaxAge) {
		w.snap = nil
	}
	if w.snap == nil && w.listed[k] {
		if w.asked++; w.asked == 2 {
			w.listed = nil
			vss, err := c.VirtualServers(ctx)
			if err != nil {
				return nil, false
			}
			w.snap = make(map[ipvs.ServiceKey][]ipvs.Destination, len(vss))
			for i := range vss {
				w.snap[vss[i].Service.Key()] = vss[i].Destinations
			}
			// The walk's pauses count from the end of the read, which
			// may itself last longer than Idle.
			t = now()
			w.read = t
		}
	}
	dests, ok = w.snap[k]
	if ok {
		delete(w.snap, k)
		w.last = t
	}
	return dests, ok
}

// now is the clock of the limits; tests replace it.
var now = time.Now

// Write makes write, a write through the drop-in to the service svc
// identifies, and then drops what the snapshot holds of that service, so
// that the writer reads its own write. Then, not before: the drop-ins
// are safe for concurrent use, and another caller's walk may read the
// snapshot while the write is under way, before the kernel has applied
// it. The entry goes whether the write failed or not, since a write that
// failed (its answer lost, say) may still have been applied.
func (w *Walk) Write(svc ipvs.Service, write func() error) error {
	err := write()
	k := svc.Key()
	w.mu.Lock()
	delete(w.snap, k)
	w.mu.Unlock()
	return err
}

// WriteAll makes write, a write that may touch every service (a flush),
// and then drops the snapshot and the listing, as Write drops one entry.
func (w *Walk) WriteAll(write func() error) error {
	err := write()
	w.mu.Lock()
	w.listed, w.snap = nil, nil
	w.mu.Unlock()
	return err
}
