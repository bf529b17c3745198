//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	lib "github.com/ipvs-go/ipvs"
)

// The ipvsd suites run the daemon (a program built beside the bench, as
// make bench does) on services × dests real servers, each with one HTTP
// check every second against real backends: every real server is an
// address of 10.100.0.0/16 on this namespace's loopback (one local
// route), served by an HTTP server per port in this process, so that all
// services × dests checks are distinct and none is shared. They measure
// the time from the start to the whole table, the daemon's share of a
// core and peak RSS while it checks, the time from a backend's failure
// to its weight 0 in the table, and the time from a reload that changes
// one real server's weight to the table's change, with the writes made;
// each failure and the reload come to a table left alone for two sync
// intervals, since the daemon writes once an interval at most.
//
// Suite ipvsd runs the ipvsd program on the kernel's table, in the VM;
// suite ipvsd-memory runs the same daemon on an in-memory IPVS (package
// ipvstest's model behind a real client, program ipvsd-memory) on the
// host, where the checks run at native speed, and reads the table
// through the daemon's API.
func init() {
	registerSuite("ipvsd", func(services, dests, rep int) error {
		return ipvsdSuite("ipvsd", []string{"ipvsd", "run", "--no-metrics.table", "--log.level=warn", "--no-config.watch"}, services, dests, rep)
	})
	registerSuite("ipvsd-memory", func(services, dests, rep int) error {
		return ipvsdSuite("ipvsd-memory", []string{"ipvsd-memory", "--config.watch=false"}, services, dests, rep)
	})
	suiteTitles["ipvsd"] = "ipvsd on the kernel's table: virtual servers × real servers, one HTTP check each every second"
	suiteTitles["ipvsd-memory"] = "ipvsd on an in-memory IPVS, on the host: virtual servers × real servers, one HTTP check each every second"
	moreTargets = append(moreTargets, ipvsdTargets)
}

// ipvsdTargets checks the suites' targets: a backend's failure in the
// table within a check interval plus 100 ms (the slowest of the
// samples), a reload that changes one real server makes one write, and
// the CPU that 10,000 checks a second take, from the share of a core the
// daemon used over the probes it made, under one core with room to spare.
func ipvsdTargets(results []result, row func(target, size, measured string, ok bool)) {
	for _, group := range []string{"ipvsd", "ipvsd-memory"} {
		var fails, cores, shares, probes []float64
		var reloads, quiet []int
		var size string
		for _, r := range results {
			if r.Group != group {
				continue
			}
			size = fmt.Sprintf("%d × %d", r.Services, r.Dests)
			switch r.Workload {
			case ipvsdFailure:
				fails = append(fails, r.Seconds)
			case ipvsdReload:
				reloads = append(reloads, r.Objects)
			case ipvsdQuiet:
				quiet = append(quiet, r.Objects)
			case ipvsdCPU:
				if r.Objects > 0 {
					cores = append(cores, r.Seconds*10000/float64(r.Objects))
					shares, probes = append(shares, r.Seconds), append(probes, float64(r.Objects))
				}
			}
		}
		if len(fails) > 0 {
			worst := slices.Max(fails)
			row(group+": a backend's failure to its weight 0 within a check interval (1 s) plus 100 ms", size,
				fmt.Sprintf("%.3f s at worst of %d", worst, len(fails)), worst <= 1.1)
		}
		if len(reloads) > 0 {
			row(group+": a reload that changes one real server makes exactly one write", size,
				fmt.Sprintf("%v writes (%v in as long without a reload)", reloads, quiet), !slices.ContainsFunc(reloads, func(n int) bool { return n != 1 }))
		}
		if group == "ipvsd-memory" && len(cores) > 0 {
			m := median(cores)
			row(group+": 10,000 checks a second in one core with room to spare (under 0.8)", size,
				fmt.Sprintf("%.2f cores (%.2f of a core at %.0f probes/s, medians)", m, median(shares), median(probes)), m < 0.8)
		}
	}
}

// The workloads of the suite, as the report names them.
const (
	ipvsdStart   = "start: every real server in the table"
	ipvsdCPU     = "checking: CPU seconds per second (objects: probes/s)"
	ipvsdFailure = "failure: backend answers 503 -> weight 0 in the table"
	ipvsdReload  = "reload: one weight changed -> the change in the table (objects: writes)"
	ipvsdQuiet   = "no reload: writes in a window as long as the reload's (objects: writes)"
)

// ipvsdBackends answers every check: 200, or 503 for the addresses told
// to fail.
type ipvsdBackends struct {
	requests  atomic.Int64
	failing   sync.Map // "address:port" -> true
	listeners []net.Listener
}

func startIPVSDBackends(ports int) (*ipvsdBackends, error) {
	b := &ipvsdBackends{}
	answer := func(c net.Conn) string {
		b.requests.Add(1)
		if _, fail := b.failing.Load(c.LocalAddr().String()); fail {
			return httpUnavailable
		}
		return httpOK
	}
	for p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", 8000+p))
		if err != nil {
			b.close()
			return nil, err
		}
		b.listeners = append(b.listeners, l)
		go serveChecks(l, answer)
	}
	return b, nil
}

func (b *ipvsdBackends) close() {
	for _, l := range b.listeners {
		l.Close()
	}
}

// ipvsdSyncInterval is the daemon's sync interval in the suite.
const ipvsdSyncInterval = time.Second

// ipvsdConfig is the configuration of the suite: services like the other
// suites', each with its dests real servers and one HTTP check.
func ipvsdConfig(services, dests int, weightOf func(i, j int) int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "director: {sync_interval: %s}\nvirtual_servers:\n", ipvsdSyncInterval)
	for i := range services {
		svc := libSvc(i)
		fmt.Fprintf(&b, "  - name: vs%d\n    address: %s\n    port: 80\n    lvs_sched: rr\n    delay_loop: 1s\n    connect_timeout: 1s\n    retry: 0\n", i, svc.Address)
		b.WriteString("    checks: [{type: http, path: /healthz}]\n    real_servers:\n")
		for j := range dests {
			a, p := dstAddr(i, j)
			fmt.Fprintf(&b, "      - {address: %s, port: %d, weight: %d}\n", a, p, weightOf(i, j))
		}
	}
	return b.Bytes()
}

// ipvsdSuite runs the suite group with the daemon that argv starts (its
// program, found beside the bench, and the arguments before the common
// flags).
func ipvsdSuite(group string, argv []string, services, dests, rep int) error {
	bin, err := filepath.Abs(argv[0])
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("the %s program, built beside the bench by make bench: %w", argv[0], err)
	}
	if out, err := exec.Command("ip", "route", "add", "local", "10.100.0.0/16", "dev", "lo").CombinedOutput(); err != nil {
		return fmt.Errorf("local route: %v: %s", err, out)
	}
	_, lastPort := dstAddr(services-1, 0)
	backends, err := startIPVSDBackends(int(lastPort) - 8000 + 1)
	if err != nil {
		return err
	}
	defer backends.close()
	dir, err := os.MkdirTemp("", "ipvsd-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "ipvsd.yaml")
	one := func(int, int) int { return 1 }
	if err := os.WriteFile(cfg, ipvsdConfig(services, dests, one), 0o600); err != nil {
		return err
	}
	sock := filepath.Join(dir, "ipvsd.sock")
	var logs bytes.Buffer
	cmd := exec.Command(bin, append(argv[1:], "--config.file="+cfg, "--state.dir="+filepath.Join(dir, "state"),
		"--web.listen-address=unix:"+sock)...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		if err := stopDaemon(cmd, 30*time.Second); err != nil {
			fmt.Fprintf(os.Stderr, "%s suite: %v\n", group, err)
		}
		if logs.Len() > 0 {
			fmt.Fprintf(os.Stderr, "%s's log:\n%.4000s\n", argv[0], logs.String())
		}
	}()
	api := ipvsdAPI(sock)
	var table ipvsdTable = ipvsdAPITable{api}
	if group == "ipvsd" {
		c, err := lib.New(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		table = ipvsdKernelTable{c}
	}
	base := result{Group: group, Contender: "ipvsd", Services: services, Dests: dests, Rep: rep, Allocs: -1}
	// Each result carries the daemon's peak RSS so far, not the bench's.
	emitDaemon := func(r result) {
		r.RSSKiB, _ = processPeakRSS(cmd.Process.Pid)
		emit(r)
	}

	// The start: every real server in the table (up until its checks
	// fail, as a start without alpha has them). The first sync writes
	// them all in one batch, the last virtual server's last: its real
	// servers tell.
	for n := 0; n != dests; time.Sleep(100 * time.Millisecond) {
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("after 5 minutes, %d of %d real servers of the last virtual server in the table", n, dests)
		}
		if n, err = table.present(services - 1); err != nil && !errors.Is(err, errNotYet) {
			return err
		}
	}
	r := base
	r.Workload, r.Objects, r.Seconds = ipvsdStart, services*dests, time.Since(start).Seconds()
	emitDaemon(r)

	// Checking: the daemon's CPU over a while, and the probes it made.
	time.Sleep(5 * time.Second)
	cpu0, err := processCPU(cmd.Process.Pid, false)
	if err != nil {
		return err
	}
	req0, t0 := backends.requests.Load(), time.Now()
	time.Sleep(20 * time.Second)
	cpu1, err := processCPU(cmd.Process.Pid, false)
	if err != nil {
		return err
	}
	wall := time.Since(t0)
	r = base
	r.Workload, r.Seconds = ipvsdCPU, (cpu1-cpu0).Seconds()/wall.Seconds()
	r.Objects = int(float64(backends.requests.Load()-req0) / wall.Seconds())
	emitDaemon(r)

	// Failures: a backend starts answering 503; the time until the
	// table has its weight at 0 (or has it no more).
	for k := range 5 {
		i, j := (k*197+11)%services, k%dests
		a, p := dstAddr(i, j)
		target := hostPort(a, p)
		// It must be up first (checks that time out under load take
		// real servers down on their own), or its failure is nothing
		// to see.
		if err := waitWeight(table, i, target, func(w int) bool { return w > 0 }); err != nil {
			fmt.Fprintf(os.Stderr, "%s suite: %s is not up before its failure: %v\n", group, target, err)
			continue
		}
		begin := time.Now()
		backends.failing.Store(target, true)
		if err := waitWeight(table, i, target, func(w int) bool { return w <= 0 }); err != nil {
			return fmt.Errorf("failure of %s: %w", target, err)
		}
		r = base
		r.Workload, r.Objects, r.Seconds = ipvsdFailure, 1, time.Since(begin).Seconds()
		emitDaemon(r)
		backends.failing.Delete(target)
		if err := waitWeight(table, i, target, func(w int) bool { return w > 0 }); err != nil {
			return fmt.Errorf("recovery of %s: %w", target, err)
		}
		// The daemon writes once a sync interval at most: the next
		// failure comes to a table still for longer than that, or it
		// would wait for the interval after this recovery's write.
		time.Sleep(2 * ipvsdSyncInterval)
	}

	// A reload that changes one real server's weight, by SIGHUP alone
	// (the daemon does not watch its file here).
	time.Sleep(2 * ipvsdSyncInterval) // past the sync interval of the last write
	before, err := ipvsdChanges(api)
	if err != nil {
		return err
	}
	window := time.Now()
	ci, cj := services/2, 3%dests
	heavier := func(i, j int) int {
		if i == ci && j == cj {
			return 2
		}
		return 1
	}
	if err := os.WriteFile(cfg+".tmp", ipvsdConfig(services, dests, heavier), 0o600); err != nil {
		return err
	}
	if err := os.Rename(cfg+".tmp", cfg); err != nil {
		return err
	}
	a, p := dstAddr(ci, cj)
	begin := time.Now()
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return err
	}
	if err := waitWeight(table, ci, hostPort(a, p), func(w int) bool { return w == 2 }); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	took := time.Since(begin)
	time.Sleep(3 * time.Second) // any other write would come within a sync interval or two
	after, err := ipvsdChanges(api)
	if err != nil {
		return err
	}
	r = base
	r.Workload, r.Objects, r.Seconds = ipvsdReload, int(after-before), took.Seconds()
	emitDaemon(r)

	// The same window again without a reload: the writes of checks
	// that change on their own (a machine that cannot keep up makes
	// them time out), which the reload's count includes.
	quiet := time.Since(window)
	if before, err = ipvsdChanges(api); err != nil {
		return err
	}
	time.Sleep(quiet)
	if after, err = ipvsdChanges(api); err != nil {
		return err
	}
	r = base
	r.Workload, r.Objects, r.Seconds = ipvsdQuiet, int(after-before), quiet.Seconds()
	emitDaemon(r)
	return nil
}

// hostPort writes an address and port as "address:port".
func hostPort(a interface{ String() string }, p uint16) string {
	return a.String() + ":" + strconv.Itoa(int(p))
}
