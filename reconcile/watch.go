package reconcile

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"os"
	"slices"
	"time"

	"github.com/ipvs-go/ipvs"
)

// EventKind is the kind of an Event.
type EventKind uint8

// Possible EventKind values.
const (
	EventKindServiceAdded EventKind = iota + 1
	EventKindServiceRemoved
	EventKindServiceChanged
	EventKindDestinationAdded
	EventKindDestinationRemoved
	EventKindDestinationChanged
)

var eventNames = [...]string{
	EventKindServiceAdded:       "service added",
	EventKindServiceRemoved:     "service removed",
	EventKindServiceChanged:     "service changed",
	EventKindDestinationAdded:   "destination added",
	EventKindDestinationRemoved: "destination removed",
	EventKindDestinationChanged: "destination changed",
}

// String returns the kind's name, such as "destination added".
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is a difference between two reads of a table.
type Event struct {
	Kind EventKind
	// Service is the service as read last (as read before, if removed),
	// or the one the destination belongs to.
	Service ipvs.Service
	// Destination is the destination, for destination kinds, likewise.
	Destination ipvs.Destination
	// Change says what changed, such as "weight 1 -> 0", for the changed
	// kinds.
	Change string
}

// String returns the event on one line, as
// "destination changed 10.0.0.2:80 of tcp 10.0.0.1:80: weight 1 -> 0".
func (e Event) String() string {
	s := e.Kind.String() + " "
	if e.Kind >= EventKindDestinationAdded {
		s += e.Destination.String() + " of "
	}
	s += e.Service.String()
	if e.Change != "" {
		s += ": " + e.Change
	}
	return s
}

// Diff returns the differences from the table prev to next, with the
// planner's comparison (see Compute): counters, connection counts and
// what the kernel sets or ignores are no differences. A service added or
// removed comes with an event for each of its destinations, after the
// service's when added and before it when removed. A service or
// destination a table lists twice, as a dump may while the kernel's table
// changes, is one: the first one listed counts.
func Diff(prev, next []ipvs.VirtualServer) []Event {
	var out []Event
	old := make(map[ipvs.ServiceKey]int, len(prev))
	for i, vs := range prev {
		if k := vs.Service.Key(); !holds(old, k) {
			old[k] = i
		}
	}
	kept := make(map[ipvs.ServiceKey]bool, len(next))
	for _, vs := range next {
		svc := canonService(vs.Service)
		k := svc.Key()
		if kept[k] {
			continue
		}
		kept[k] = true
		i, ok := old[k]
		if !ok {
			out = append(out, Event{Kind: EventKindServiceAdded, Service: svc})
			out = diffDests(out, svc, nil, vs.Destinations)
			continue
		}
		before := canonService(prev[i].Service)
		if c := diffService(before, svc); c != "" {
			out = append(out, Event{Kind: EventKindServiceChanged, Service: svc, Change: c})
		}
		out = diffDests(out, svc, prev[i].Destinations, vs.Destinations)
	}
	for i, vs := range prev {
		svc := canonService(vs.Service)
		if k := svc.Key(); !kept[k] && old[k] == i {
			out = diffDests(out, svc, vs.Destinations, nil)
			out = append(out, Event{Kind: EventKindServiceRemoved, Service: svc})
		}
	}
	return out
}

// holds reports whether m holds k.
func holds[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}

// diffDests appends the differences of the destinations of svc, each
// listed once.
func diffDests(out []Event, svc ipvs.Service, prev, next []ipvs.Destination) []Event {
	sk := svc.Key()
	old := make(map[netip.AddrPort]ipvs.Destination, len(prev))
	for _, d := range prev {
		d = canonDest(sk, d)
		if k := d.Key(sk); !holds(old, k) {
			old[k] = d
		}
	}
	kept := make(map[netip.AddrPort]bool, len(next))
	for _, d := range next {
		d = canonDest(sk, d)
		k := d.Key(sk)
		if kept[k] {
			continue
		}
		kept[k] = true
		if b, ok := old[k]; !ok {
			out = append(out, Event{Kind: EventKindDestinationAdded, Service: svc, Destination: d})
		} else if c := diffDest(&b, &d); c != "" {
			out = append(out, Event{Kind: EventKindDestinationChanged, Service: svc, Destination: d, Change: c})
		}
	}
	for _, d := range prev {
		d = canonDest(sk, d)
		if k := d.Key(sk); !kept[k] {
			kept[k] = true // once
			out = append(out, Event{Kind: EventKindDestinationRemoved, Service: svc, Destination: d})
		}
	}
	return out
}

// confirm adds to next what prev held and next lacks, if a read of that
// alone finds it: the kernel's dumps skip objects while services are
// removed, in any namespace (see Compute), so that an object missing from
// one read is removed only if a read of it alone says so. A service read
// again comes with all its destinations; a destination missing from a
// service that next holds is looked for in a read of that service's.
func confirm(ctx context.Context, c *ipvs.Client, prev, next []ipvs.VirtualServer) ([]ipvs.VirtualServer, error) {
	at := make(map[ipvs.ServiceKey]int, len(next))
	for i, vs := range next {
		if k := vs.Service.Key(); !holds(at, k) {
			at[k] = i
		}
	}
	for _, vs := range prev {
		k := vs.Service.Key()
		i, ok := at[k]
		if !ok {
			svc, err := c.Service(ctx, vs.Service)
			if errors.Is(err, os.ErrNotExist) {
				continue // removed indeed
			}
			if err != nil {
				return nil, err
			}
			ds, err := c.Destinations(ctx, svc)
			if err != nil {
				return nil, err
			}
			at[k] = len(next)
			next = append(next, ipvs.VirtualServer{Service: svc, Destinations: ds})
			continue
		}
		have := next[i].Destinations
		missing := false
		for _, d := range vs.Destinations {
			dk := d.Key(k)
			if !slices.ContainsFunc(have, func(h ipvs.Destination) bool { return h.Key(k) == dk }) {
				missing = true
				break
			}
		}
		if !missing {
			continue
		}
		ds, err := c.Destinations(ctx, vs.Service)
		if err != nil {
			return nil, err
		}
		// The service's own read is the later, whole one.
		next[i].Destinations = ds
	}
	return next, nil
}

// Watch polls the table of c every interval and yields the differences
// between successive reads (see Diff); the first read is compared with an
// empty table, so it yields the whole table as added. IPVS has no
// notifications, so polling is the only way to see changes.
//
// A dump may skip objects, or list some twice, while any program removes
// or adds services (see Compute): an object listed twice is one, and one
// missing from a read is reported removed only once a read of that object
// alone (its service, or its service's destinations) does not find it.
//
// A failed read yields its error and polling goes on from the last good
// read; stop by breaking out of the loop or ending ctx, which ends the
// iteration without an error. An interval that is not positive yields an
// error and ends.
func Watch(ctx context.Context, c *ipvs.Client, interval time.Duration) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if interval <= 0 {
			yield(Event{}, fmt.Errorf("reconcile: watch interval %s is not positive", interval))
			return
		}
		var prev []ipvs.VirtualServer
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			next, err := c.VirtualServers(ctx)
			if err == nil {
				next, err = confirm(ctx, c, prev, next)
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if !yield(Event{}, err) {
					return
				}
			} else {
				for _, e := range Diff(prev, next) {
					if !yield(e, nil) {
						return
					}
				}
				prev = next
			}
			t.Reset(interval)
		}
	}
}
