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
// or has lasted MaxAge. A write through the drop-in drops the entry of the
// service it touches (Forget), so a program always reads its own writes;
// another process's write made during the walk is seen a walk later, as
// it would be had the walk run a moment earlier.
//
// It serves the drop-ins and makes no promise of compatibility to others.
package readahead

import (
	"context"
	"net/netip"
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

// key is what identifies a service.
type key struct {
	family   ipvs.Family
	protocol ipvs.Protocol
	addr     netip.Addr
	port     uint16
	fwmark   uint32
}

func keyOf(s *ipvs.Service) key {
	k := key{family: s.Family, fwmark: s.FWMark}
	if k.family == 0 && s.Address.IsValid() {
		k.family = ipvs.FamilyIPv6
		if s.Address.Is4() {
			k.family = ipvs.FamilyIPv4
		}
	}
	if s.FWMark == 0 {
		k.protocol, k.addr, k.port = s.Protocol, s.Address, s.Port
	}
	return k
}

// Walk holds the read-ahead of one drop-in client. Its zero value is
// ready; it is safe for concurrent use.
type Walk struct {
	mu     sync.Mutex
	listed map[key]bool // the last List, until the read
	asked  int          // listed services asked for since then
	snap   map[key][]ipvs.Destination
	read   time.Time // when snap was read
	last   time.Time // the last call snap served
}

// List arms the read-ahead with the services a listing returned.
func (w *Walk) List(svcs []ipvs.Service) {
	listed := make(map[key]bool, len(svcs))
	for i := range svcs {
		listed[keyOf(&svcs[i])] = true
	}
	w.mu.Lock()
	w.listed, w.asked, w.snap = listed, 0, nil
	w.mu.Unlock()
}

// Destinations returns the destinations of svc from the snapshot, reading
// it through c first if this is the second listed service asked for; ok
// is false when the caller must read them itself.
func (w *Walk) Destinations(ctx context.Context, c *ipvs.Client, svc ipvs.Service) (dests []ipvs.Destination, ok bool) {
	k := keyOf(&svc)
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
			w.snap = make(map[key][]ipvs.Destination, len(vss))
			for i := range vss {
				w.snap[keyOf(&vss[i].Service)] = vss[i].Destinations
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

// Forget drops what the snapshot holds of the service svc identifies,
// after a write to it.
func (w *Walk) Forget(svc ipvs.Service) {
	w.mu.Lock()
	delete(w.snap, keyOf(&svc))
	w.mu.Unlock()
}

// ForgetAll drops the snapshot and the listing, after a flush.
func (w *Walk) ForgetAll() {
	w.mu.Lock()
	w.listed, w.snap = nil, nil
	w.mu.Unlock()
}
