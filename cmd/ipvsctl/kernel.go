package main

import (
	"fmt"
	"runtime"

	"github.com/ipvs-go/ipvs"
)

// maxKernelServices bounds the table readKernel holds, as the library
// bounds the tables it collects (VirtualServers), so that a dump that
// never ends can not grow memory without bound.
const maxKernelServices = 1 << 22

var errKernelTooLarge = fmt.Errorf("the kernel's table has more than %d services", maxKernelServices)

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
	arena   []held // room for the destinations of services to come
}

// readKernel reads the client's table into its compact form as the
// library yields it, a window of services at a time, so that the table
// is never held whole in the library's form: its peak, and not only what
// stays, is the compact form's.
func (e *env) readKernel() (*kernelTable, error) {
	k := &kernelTable{}
	for vs, err := range e.client.AllVirtualServers(e.ctx) {
		if err != nil {
			return nil, err
		}
		if len(k.services) == maxKernelServices {
			return nil, errKernelTooLarge
		}
		k.add(&vs)
	}
	if k.objects >= collectAfter {
		runtime.GC()
	}
	return k, nil
}

// compact returns the kernel's table vs in its compact form.
func compact(vs []ipvs.VirtualServer) *kernelTable {
	k := &kernelTable{}
	for i := range vs {
		k.add(&vs[i])
	}
	return k
}

// heldArena is how many destinations add allocates at once, to share
// among the services it adds.
const heldArena = 4096

// add appends vs to the table in its compact form, its destinations
// taken from the table's arena.
func (k *kernelTable) add(vs *ipvs.VirtualServer) {
	s := vs.Service
	s.Stats = ipvs.Stats{}
	n := len(vs.Destinations)
	if len(k.arena) < n {
		k.arena = make([]held, max(n, heldArena))
	}
	ds := k.arena[:n:n]
	k.arena = k.arena[n:]
	key := s.Key()
	for j := range vs.Destinations {
		d := &vs.Destinations[j]
		ds[j] = held{destOf(d, key, 0), d.ActiveConnections, d.InactiveConnections, d.PersistentConnections}
	}
	k.services = append(k.services, s)
	k.dests = append(k.dests, ds)
	k.objects += 1 + n
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
