//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"

	moby "github.com/moby/ipvs"
	"golang.org/x/sys/unix"

	lib "github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/reconcile"
)

// The reconcile suite converges a table of services × dests destinations
// three times: from empty, with 1 % of the destinations' weights changed,
// and when already converged; once with package reconcile (one read, one
// batch) and once the way kube-proxy's IPVS proxier does it on moby/ipvs
// (list the services, list each one's destinations, one call per change).
// kube-proxy also gets each service twice on its way (kube-proxy-moby);
// list-moby leaves that out. The suite checks the counts of reads and
// writes of each: reconcile must read once and write exactly the changed
// objects.
func init() { registerSuite("reconcile", reconcileSuite) }

// recStep is one convergence: its name and the weight of destination j of
// service i in the desired table.
type recStep struct {
	name   string
	weight func(i, j int) int
}

func recSteps(d int) []recStep {
	one := func(i, j int) int { return 1 }
	pct := func(i, j int) int { // every hundredth destination
		if (i*d+j)%100 == 0 {
			return 2
		}
		return 1
	}
	return []recStep{{"converge-empty", one}, {"converge-1pct", pct}, {"converge-none", pct}}
}

// recWant is the number of writes a convergence needs.
func recWant(step, n, d int) int {
	switch step {
	case 0:
		return n * (1 + d)
	case 1:
		return (n*d + 99) / 100
	}
	return 0
}

func reconcileSuite(n, d, rep int) error {
	// Each contender works in a namespace of its own: the kernel keeps
	// removed destinations on a per-namespace list that creations walk.
	nsOurs, err := recNetNS()
	if err != nil {
		return err
	}
	defer nsOurs.Close()
	nsMoby, err := recNetNS()
	if err != nil {
		return err
	}
	defer nsMoby.Close()
	nsKube, err := recNetNS()
	if err != nil {
		return err
	}
	defer nsKube.Close()
	ctx := context.Background()
	c, err := lib.New(&lib.Config{NetNS: int(nsOurs.Fd())})
	if err != nil {
		return err
	}
	defer c.Close()
	h, err := moby.New(fmt.Sprintf("/proc/self/fd/%d", nsMoby.Fd()))
	if err != nil {
		return err
	}
	defer h.Close()
	hk, err := moby.New(fmt.Sprintf("/proc/self/fd/%d", nsKube.Fd()))
	if err != nil {
		return err
	}
	defer hk.Close()
	r := reconcile.NewReconciler(c, reconcile.Options{})
	// The desired tables are built before the clock starts: they are the
	// caller's input, in each library's types.
	ours := func(s recStep) func() (int, int, error) {
		desired := make([]lib.VirtualServer, n)
		for i := range desired {
			desired[i].Service = libSvc(i)
			desired[i].Destinations = make([]lib.Destination, d)
			for j := range d {
				desired[i].Destinations[j] = libDst(i, j, s.weight(i, j))
			}
		}
		return func() (int, int, error) {
			p, err := r.Sync(ctx, desired)
			if err != nil {
				return 0, 0, err
			}
			return 1, p.Len(), nil
		}
	}
	theirs := func(h *moby.Handle, getEach bool) func(s recStep) func() (int, int, error) {
		return func(s recStep) func() (int, int, error) {
			desired := make([]mobyVS, n)
			for i := range desired {
				desired[i].svc = mobySvc(i)
				for j := range d {
					desired[i].dests = append(desired[i].dests, mobyDst(i, j, s.weight(i, j)))
				}
			}
			return func() (int, int, error) { return mobySync(h, desired, getEach) }
		}
	}
	for _, ct := range []struct {
		name    string
		prepare func(recStep) func() (int, int, error)
	}{{"kube-proxy-moby", theirs(hk, true)}, {"list-moby", theirs(h, false)}, {"ipvs-reconcile", ours}} {
		for k, s := range recSteps(d) {
			sync := ct.prepare(s)
			// The kernel's rate estimators start for every new object,
			// which under emulation takes the CPU for a while: let them.
			time.Sleep(3 * time.Second)
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			start := time.Now()
			reads, writes, err := sync()
			took := time.Since(start)
			runtime.ReadMemStats(&ms1)
			if err != nil {
				return fmt.Errorf("%s %s: %w", ct.name, s.name, err)
			}
			if want := recWant(k, n, d); writes != want {
				return fmt.Errorf("%s %s: %d writes, want %d", ct.name, s.name, writes, want)
			}
			if ct.name == "ipvs-reconcile" && reads != 1 {
				return fmt.Errorf("%s %s: %d reads, want 1", ct.name, s.name, reads)
			}
			fmt.Fprintf(os.Stderr, "bench: reconcile %s %s: %d reads, %d writes, %s\n", ct.name, s.name, reads, writes, took.Round(time.Millisecond))
			emit(result{Group: "reconcile", Contender: ct.name, Workload: s.name, Services: n, Dests: d, Rep: rep,
				Objects: writes, Seconds: took.Seconds(), Allocs: int64(ms1.Mallocs - ms0.Mallocs)})
		}
	}
	return nil
}

// recNetNS returns a fresh network namespace with lo up. The thread that
// makes it never leaves it and ends with its goroutine.
func recNetNS() (*os.File, error) {
	type made struct {
		f   *os.File
		err error
	}
	ch := make(chan made)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- made{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		f, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err == nil {
			err = loUp() // ip runs in this thread's namespace
		}
		ch <- made{f, err}
	}()
	m := <-ch
	return m.f, m.err
}

// mobyVS is a desired service in moby/ipvs's types.
type mobyVS struct {
	svc   *moby.Service
	dests []*moby.Destination
}

// mobySync is kube-proxy's IPVS sync on moby/ipvs (syncService and
// syncEndpoint): list the services; per desired service, create or update
// it, list its destinations, and create, update or remove each one; remove
// the services not desired. With getEach, it also gets each service
// before syncing it and again before listing its destinations, as
// kube-proxy's syncService and syncEndpoint do (GetVirtualServer), where
// without it the listing stands for both. It returns its calls that read
// and write.
func mobySync(h *moby.Handle, desired []mobyVS, getEach bool) (reads, writes int, err error) {
	svcs, err := h.GetServices()
	if err != nil {
		return 0, 0, err
	}
	reads++
	have := make(map[string]*moby.Service, len(svcs))
	for _, s := range svcs {
		have[fmt.Sprintf("%s:%d/%d", s.Address, s.Port, s.Protocol)] = s
	}
	for _, vs := range desired {
		want := vs.svc
		k := fmt.Sprintf("%s:%d/%d", want.Address, want.Port, want.Protocol)
		cur, ok := have[k]
		delete(have, k)
		if getEach {
			cur, err = h.GetService(want)
			reads++
			ok = err == nil
		}
		switch {
		case !ok:
			err = h.NewService(want)
			writes++
		case cur.SchedName != want.SchedName || cur.Flags&^2 != want.Flags || cur.Timeout != want.Timeout:
			err = h.UpdateService(want)
			writes++
		}
		if err != nil {
			return reads, writes, err
		}
		if getEach {
			if _, err := h.GetService(want); err != nil {
				return reads, writes, err
			}
			reads++
		}
		dests, err := h.GetDestinations(want)
		if err != nil {
			return reads, writes, err
		}
		reads++
		curD := make(map[string]*moby.Destination, len(dests))
		for _, x := range dests {
			curD[net.JoinHostPort(x.Address.String(), fmt.Sprint(x.Port))] = x
		}
		for _, wd := range vs.dests {
			dk := net.JoinHostPort(wd.Address.String(), fmt.Sprint(wd.Port))
			x, ok := curD[dk]
			delete(curD, dk)
			switch {
			case !ok:
				err = h.NewDestination(want, wd)
				writes++
			case x.Weight != wd.Weight:
				err = h.UpdateDestination(want, wd)
				writes++
			}
			if err != nil {
				return reads, writes, err
			}
		}
		for _, x := range curD {
			if err := h.DelDestination(want, x); err != nil {
				return reads, writes, err
			}
			writes++
		}
	}
	for _, s := range have {
		if err := h.DelService(s); err != nil {
			return reads, writes, err
		}
		writes++
	}
	return reads, writes, nil
}
