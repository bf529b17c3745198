package main

import (
	"runtime"

	"github.com/ipvs-go/ipvs"
)

// collectAfter is the number of services and destinations from which
// readKernel collects the table it read.
const collectAfter = 10000

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
	// objects counts the services and destinations.
	objects int
}

// readKernel reads the client's table, in its compact form. The table as
// read is garbage then, and for a large one collected at once, so that
// the room it took is reused by what comes next rather than added to.
func (e *env) readKernel() (*kernelTable, error) {
	vs, err := e.client.VirtualServers(e.ctx)
	if err != nil {
		return nil, err
	}
	k := compact(vs)
	if k.objects >= collectAfter {
		runtime.GC()
	}
	return k, nil
}

// compact returns the kernel's table vs in its compact form.
func compact(vs []ipvs.VirtualServer) *kernelTable {
	n := 0
	for i := range vs {
		n += len(vs[i].Destinations)
	}
	arena := make([]held, n)
	k := &kernelTable{services: make([]ipvs.Service, len(vs)), dests: make([][]held, len(vs)), objects: len(vs) + n}
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
