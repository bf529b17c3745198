//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	moby "github.com/moby/ipvs"

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

// reconcileContenderEnv names, in a child, the one contender to measure.
const reconcileContenderEnv = "BENCH_RECONCILE_CONTENDER"

var reconcileContenders = []string{"kube-proxy-moby", "list-moby", "ipvs-reconcile"}

// reconcileSuite runs each contender in a process and network namespace of
// its own. A contender that shared the machine with another's table, or
// with the teardown of one, would be timed slower for it: the kernel runs
// a rate estimator for every live IPVS object, which under emulation takes
// the CPU, and kernels such as 6.1 hash every namespace's services into
// one table of 256 chains, which each lookup walks. A namespace goes
// away only after its last process has exited, in a kernel worker (ip_vs
// flushes its table in the namespace's exit), so the next child waits for
// the machine to be quiet.
func reconcileSuite(n, d, rep int) error {
	if name := os.Getenv(reconcileContenderEnv); name != "" {
		return reconcileContender(name, n, d, rep)
	}
	for _, name := range reconcileContenders {
		waited, idle := waitQuiet(60 * time.Second)
		fmt.Fprintf(os.Stderr, "bench: reconcile %s: waited %s for quiet (%.0f %% idle)\n", name, waited.Round(time.Second), idle*100)
		if err := runContender("reconcile", reconcileContenderEnv, name, n, d, rep, true); err != nil {
			return err
		}
	}
	return nil
}

// reconcileContender converges the table through each step the way name
// does, in this process's namespace, and emits each step.
func reconcileContender(name string, n, d, rep int) error {
	var prepare func(recStep) func() (int, int, error)
	switch name {
	case "ipvs-reconcile":
		c, err := lib.New(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		prepare = recOurs(reconcile.NewReconciler(c, reconcile.Options{}), n, d)
	case "kube-proxy-moby", "list-moby":
		h, err := moby.New("")
		if err != nil {
			return err
		}
		defer h.Close()
		prepare = recTheirs(h, name == "kube-proxy-moby", n, d)
	default:
		return fmt.Errorf("unknown reconcile contender %q", name)
	}
	for k, s := range recSteps(d) {
		sync := prepare(s)
		// The kernel starts a rate estimator for every new object, which
		// under emulation can take the CPU for a while (6.2 and later also
		// calibrate their estimator threads): wait as long as that lasts
		// rather than a fixed time. The cap is there because a large
		// table's estimators, or a slow machine, may never leave the CPU
		// 90 % idle.
		waited, idle := waitQuiet(10 * time.Second)
		fmt.Fprintf(os.Stderr, "bench: reconcile %s %s: waited %s for quiet (%.0f %% idle)\n", name, s.name, waited.Round(time.Second), idle*100)
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		stop := startProfile(name + "/" + s.name)
		start := time.Now()
		reads, writes, err := sync()
		took := time.Since(start)
		stop()
		runtime.ReadMemStats(&ms1)
		if err != nil {
			return fmt.Errorf("%s %s: %w", name, s.name, err)
		}
		if want := recWant(k, n, d); writes != want {
			return fmt.Errorf("%s %s: %d writes, want %d", name, s.name, writes, want)
		}
		if name == "ipvs-reconcile" && reads != 1 {
			return fmt.Errorf("%s %s: %d reads, want 1", name, s.name, reads)
		}
		fmt.Fprintf(os.Stderr, "bench: reconcile %s %s: %d reads, %d writes, %s\n", name, s.name, reads, writes, took.Round(time.Millisecond))
		emit(result{Group: "reconcile", Contender: name, Workload: s.name, Services: n, Dests: d, Rep: rep,
			Objects: writes, Seconds: took.Seconds(), Allocs: int64(ms1.Mallocs - ms0.Mallocs)})
	}
	return nil
}

// recOurs and recTheirs build a step's desired table before the clock
// starts: it is the caller's input, in each library's types.
func recOurs(r *reconcile.Reconciler, n, d int) func(recStep) func() (int, int, error) {
	return func(s recStep) func() (int, int, error) {
		desired := make([]lib.VirtualServer, n)
		for i := range desired {
			desired[i].Service = libSvc(i)
			desired[i].Destinations = make([]lib.Destination, d)
			for j := range d {
				desired[i].Destinations[j] = libDst(i, j, s.weight(i, j))
			}
		}
		return func() (int, int, error) {
			p, err := r.Sync(context.Background(), desired)
			if err != nil {
				return 0, 0, err
			}
			return 1, p.Len(), nil
		}
	}
}

func recTheirs(h *moby.Handle, getEach bool, n, d int) func(recStep) func() (int, int, error) {
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

// waitQuiet returns once the CPUs were at least 90 % idle over a second,
// or after limit, and says how long it waited and how idle the last second
// was. /proc/stat is the machine's, whatever the namespace: it sees the
// kernel workers that tear a namespace down.
func waitQuiet(limit time.Duration) (waited time.Duration, idle float64) {
	start := time.Now()
	prevIdle, prevTotal, err := cpuTimes()
	for err == nil {
		time.Sleep(time.Second)
		var i, t uint64
		if i, t, err = cpuTimes(); err != nil {
			break
		}
		if t > prevTotal {
			idle = float64(i-prevIdle) / float64(t-prevTotal)
		}
		prevIdle, prevTotal = i, t
		if idle >= 0.9 {
			return time.Since(start), idle
		}
		if time.Since(start) >= limit {
			fmt.Fprintf(os.Stderr, "bench: not quiet after %s (%.0f %% idle), going on\n", limit, idle*100)
			return time.Since(start), idle
		}
	}
	fmt.Fprintf(os.Stderr, "bench: cannot tell whether quiet: %v\n", err)
	return time.Since(start), idle
}

// cpuTimes returns the idle (with iowait) and total ticks of all CPUs,
// from /proc/stat's first line.
func cpuTimes() (idle, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal; guest time is
	// already in user.
	for k, v := range f[1:min(len(f), 9)] {
		x, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += x
		if k == 3 || k == 4 {
			idle += x
		}
	}
	return idle, total, nil
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
