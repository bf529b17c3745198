//go:build linux

// Command bench measures this library against cloudflare/ipvs, moby/ipvs,
// ipvsadm and a raw floor on the same kernel, and the drop-ins of compat/
// against the two peers they stand in for, as make bench runs it in the
// VM. Each contender and repetition runs in a child process started in a
// fresh network namespace (the kernel keeps removed destinations on a
// per-namespace list that later creations walk), and does four workloads
// in turn: create all, read all, update every weight, remove all. The
// child prints one RESULT line per workload; the parent adds the child's
// peak RSS. -mode report turns the lines into BENCHMARKS.md and a chart;
// -mode merge puts a later run of some suites into the results file in
// place of their earlier results, so that the report can be made again
// without running everything.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// result is one workload of one run.
type result struct {
	Contender string  `json:"contender"`
	Services  int     `json:"services"`
	Dests     int     `json:"dests"`
	Rep       int     `json:"rep"`
	Workload  string  `json:"workload"`
	Objects   int     `json:"objects"`
	Seconds   float64 `json:"seconds"`
	Allocs    int64   `json:"allocs"` // -1: not a Go contender
	RSSKiB    int64   `json:"rss_kib"`
	Kernel    string  `json:"kernel"`
	// Group names the suite of a result beyond the four workloads; empty
	// for those.
	Group string `json:"group,omitempty"`
	// CPUSeconds is the CPU time (user and system) a daemon used over
	// Seconds, for the suites that measure one.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
	// Date is when a suite's result was measured (UTC, to the minute);
	// empty in results from before it was recorded.
	Date string `json:"date,omitempty"`
}

var contenders = []string{"ipvs", "ipvs-batch", "cloudflare", "moby", "ipvsadm", "raw"}

var workloads = []string{"create", "read", "update", "remove"}

// contender is one way of driving IPVS through the four workloads.
type contender interface {
	create(n, d int) error
	read(n, d int) (int, error) // returns the objects read
	update(n, d int) error
	remove(n, d int) error
}

func svcAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(20 + i>>16), byte(i >> 8), byte(i)})
}

func dstAddr(i, j int) (netip.Addr, uint16) {
	return netip.AddrFrom4([4]byte{10, 100, byte(j), byte(i % 250)}), uint16(8000 + i/250)
}

func main() {
	mode := flag.String("mode", "run", "run (the matrix), child (one run; internal), suites (the other suites, -services N -rep R), suite-child (internal), report, or merge (-add's results into -in)")
	sizes := flag.String("sizes", "1000:5,10000:3", "services:repetitions, comma-separated")
	dests := flag.Int("dests", 10, "destinations per service")
	only := flag.String("contenders", strings.Join(slices.Concat(contenders, compatContenders), ","), "contenders to run")
	name := flag.String("contender", "", "child: the contender")
	n := flag.Int("services", 0, "child: number of services")
	rep := flag.Int("rep", 0, "child: repetition")
	in := flag.String("in", "", "report: the RESULT lines")
	out := flag.String("out", "BENCHMARKS.md", "report: the Markdown file")
	chart := flag.String("chart", "benchmarks.png", "report: the chart")
	micro := flag.String("micro", "", "report: output of the host's go test -bench")
	add := flag.String("add", "", "merge: a log of suites' runs, whose RESULT lines replace -in's of the same suites and sizes")
	noteText := flag.String("note", "", "merge: how the added runs were made, printed under each added suite's title")
	suiteList := flag.String("suites", "", "suites: comma-separated names (default all); suite-child: unused")
	suiteName := flag.String("suite", "", "suite-child: the suite")
	flag.Parse()
	var err error
	switch *mode {
	case "run":
		err = runMatrix(*sizes, *dests, strings.Split(*only, ","))
	case "child":
		err = runChild(*name, *n, *dests, *rep)
	case "curve":
		err = runCurve(*n, *rep)
	case "report":
		err = report(*in, *out, *chart, *micro)
	case "merge":
		err = merge(*in, *add, *noteText)
	case "suites":
		err = runSuites(strings.Split(*suiteList, ","), *n, *dests, max(*rep, 1))
	case "suite-child":
		err = runSuiteChild(*suiteName, *n, *dests, *rep)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func runMatrix(sizes string, dests int, only []string) error {
	// The receive buffer curve: 10000 services dumped with each size, three
	// times, in a namespace of its own.
	if curve := os.Getenv("BENCH_CURVE"); curve != "0" {
		cmd := exec.Command("/proc/self/exe", "-mode", "curve", "-services", "10000", "-rep", "3")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("curve: %w", err)
		}
	}
	for _, spec := range strings.Split(sizes, ",") {
		var n, reps int
		if _, err := fmt.Sscanf(spec, "%d:%d", &n, &reps); err != nil {
			return fmt.Errorf("size %q: %w", spec, err)
		}
		for rep := range reps {
			for _, c := range only {
				start := time.Now()
				if err := runOne(c, n, dests, rep); err != nil {
					return fmt.Errorf("%s, %d services, run %d: %w", c, n, rep, err)
				}
				fmt.Fprintf(os.Stderr, "bench: %s, %d services, run %d: %s\n", c, n, rep, time.Since(start).Round(time.Millisecond))
			}
		}
	}
	return nil
}

// runOne runs a child in a new network namespace and relays its results
// with its peak RSS.
func runOne(c string, n, dests, rep int) error {
	cmd := exec.Command("/proc/self/exe", "-mode", "child", "-contender", c,
		"-services", fmt.Sprint(n), "-dests", fmt.Sprint(dests), "-rep", fmt.Sprint(rep))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var lines []result
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var r result
		if rest, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok && json.Unmarshal([]byte(rest), &r) == nil {
			lines = append(lines, r)
		} else if strings.HasPrefix(sc.Text(), "PPROF ") {
			fmt.Println(sc.Text())
		}
	}
	if err := cmd.Wait(); err != nil {
		return err
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	for _, r := range lines {
		if ru != nil && ru.Maxrss > r.RSSKiB {
			r.RSSKiB = ru.Maxrss
		}
		b, _ := json.Marshal(r)
		fmt.Printf("RESULT %s\n", b)
	}
	if len(lines) != len(workloads) {
		return fmt.Errorf("%d results, want %d", len(lines), len(workloads))
	}
	return nil
}

// runChild runs the four workloads of one contender, in this process's
// fresh network namespace.
func runChild(name string, n, d, rep int) error {
	if err := loUp(); err != nil {
		return err
	}
	c, err := newContender(name)
	if err != nil {
		return err
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	defer startProfile(name)()
	for _, w := range workloads {
		if p, ok := c.(preparer); ok {
			if err := p.prepare(w, n, d); err != nil {
				return fmt.Errorf("%s: prepare: %w", w, err)
			}
		}
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		objects := 0
		start := time.Now()
		switch w {
		case "create":
			err, objects = c.create(n, d), n*(1+d)
		case "read":
			objects, err = c.read(n, d)
			if err == nil && objects != n*(1+d) {
				err = fmt.Errorf("read %d objects, want %d", objects, n*(1+d))
			}
		case "update":
			err, objects = c.update(n, d), n*d
		case "remove":
			err, objects = c.remove(n, d), n
		}
		took := time.Since(start)
		runtime.ReadMemStats(&ms1)
		if err != nil {
			return fmt.Errorf("%s: %w", w, err)
		}
		allocs := int64(ms1.Mallocs - ms0.Mallocs)
		if name == "ipvsadm" {
			allocs = -1
		}
		var self, kids syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
		_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
		b, _ := json.Marshal(result{Contender: name, Services: n, Dests: d, Rep: rep, Workload: w, Objects: objects,
			Seconds: took.Seconds(), Allocs: allocs, RSSKiB: max(self.Maxrss, kids.Maxrss), Kernel: strings.TrimSpace(string(kernel))})
		fmt.Printf("RESULT %s\n", b)
	}
	return nil
}

// loUp brings lo up: a fresh namespace refuses IPv4 destinations until then.
func loUp() error {
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("lo up: %v: %s", err, out)
	}
	return nil
}

func newContender(name string) (contender, error) {
	switch name {
	case "ipvs":
		return newLib(false)
	case "ipvs-batch":
		return newLib(true)
	case "cloudflare":
		return newCloudflare()
	case "moby":
		return newMoby()
	case "ipvsadm":
		return ipvsadm{}, nil
	case "raw":
		return newRaw()
	}
	if c, ok, err := newCompat(name); ok {
		return c, err
	}
	return nil, fmt.Errorf("unknown contender %q", name)
}
