package main

import "github.com/ipvs-go/ipvs"

// held is a destination as the kernel's table holds it: what a desired
// one has, and the connection counts that a drain is decided by.
type held struct {
	dest
	active, inactive, persistent uint32
}

// kernelTable is the kernel's table as a restore or an apply plans from
// it: without the counters, and with each destination in a third of the
// room an ipvs.Destination takes, so that a large table read once is
// not held twice over while the input is read and planned.
type kernelTable struct {
	services []ipvs.Service
	dests    [][]held
}

// compact returns the kernel's table vs in its compact form; vs is
// garbage after it.
func compact(vs []ipvs.VirtualServer) *kernelTable {
	n := 0
	for i := range vs {
		n += len(vs[i].Destinations)
	}
	arena := make([]held, n)
	k := &kernelTable{services: make([]ipvs.Service, len(vs)), dests: make([][]held, len(vs))}
	for i := range vs {
		s := vs[i].Service
		s.Stats = ipvs.Stats{}
		k.services[i] = s
		ds := arena[:len(vs[i].Destinations):len(vs[i].Destinations)]
		arena = arena[len(ds):]
		for j := range vs[i].Destinations {
			d := &vs[i].Destinations[j]
			ds[j] = held{destOf(d, s.Key(), 0), d.ActiveConnections, d.InactiveConnections, d.PersistentConnections}
		}
		k.dests[i] = ds
	}
	return k
}

// virtualServer returns service i as the library's, its destinations
// taken from room, which it returns less what it used.
func (k *kernelTable) virtualServer(i int, room []ipvs.Destination) (ipvs.VirtualServer, []ipvs.Destination) {
	hs := k.dests[i]
	ds := room[:len(hs):len(hs)]
	for j := range hs {
		ds[j] = hs[j].destination()
		ds[j].ActiveConnections, ds[j].InactiveConnections, ds[j].PersistentConnections = hs[j].active, hs[j].inactive, hs[j].persistent
	}
	return ipvs.VirtualServer{Service: k.services[i], Destinations: ds}, room[len(hs):]
}
