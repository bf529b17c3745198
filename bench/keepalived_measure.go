//go:build linux

package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	lib "github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// ksMeasure runs one daemon in d and measures it.
func ksMeasure(daemon string, d *ksDir, backends []*ksBackend, services, dests, rep int) error {
	c, err := lib.New(&lib.Config{NetNS: d.ns.Fd()})
	if err != nil {
		return err
	}
	defer c.Close()
	weight := 1
	p, err := ksStart(daemon, d, services, dests, weight)
	if err != nil {
		return err
	}
	defer p.stop()
	defer p.summary(daemon, services, dests)
	base := result{Contender: daemon, Group: "keepalived", Services: services, Dests: dests, Rep: rep, Allocs: -1}
	if err := ksWaitComplete(c, services, dests, 10*time.Minute); err != nil {
		return fmt.Errorf("%w\n%s said:\n%s", err, daemon, p.tail())
	}
	time.Sleep(ksSettle)
	probes := func() (n int) {
		for _, b := range backends {
			n += b.hitsFrom(d.source(b))
		}
		return n
	}
	cpu0, probes0, changes0 := p.cpu(), probes(), p.tableChanges()
	time.Sleep(ksWindow)
	steady := base
	steady.Workload, steady.Seconds = "steady", ksWindow.Seconds()
	steady.CPUSeconds, steady.Objects, steady.RSSKiB = p.cpu()-cpu0, probes()-probes0, p.peakRSS()
	emit(steady)
	// Changes of the table while no backend changed: checks that time
	// out because the machine cannot keep up make servers flap.
	flaps := base
	flaps.Workload, flaps.Seconds, flaps.Objects = "steady-table-changes", ksWindow.Seconds(), p.tableChanges()-changes0
	emit(flaps)

	// Endpoint s (backend s+1, port ksBasePort+s) is real server s of
	// virtual server s, among others. A daemon that does not change the
	// kernel within ksPatience is recorded as such (-1), and the suite
	// goes on.
	for s := range ksSamples {
		b, port := backends[s%len(backends)], uint16(ksBasePort+s%ksPorts)
		svc, dst := libSvc(s), netip.AddrPortFrom(b.addr, port)
		// It must be up first, or its failure is nothing to see.
		if _, err := ksWaitWeight(c, svc, dst, func(w int) bool { return w == 1 }, ksPatience); err != nil {
			fmt.Fprintf(os.Stderr, "keepalived suite, %s: %s is not up before its failure: %v\n", daemon, dst, err)
			continue
		}
		time.Sleep(ksStill)
		start := time.Now()
		b.stop(port)
		took, err := ksWaitWeight(c, svc, dst, func(w int) bool { return w <= 0 }, ksPatience)
		r := base
		r.Workload, r.Seconds, r.Objects, r.Rep = "failure-to-change", took.Sub(start).Seconds(), 1, rep*ksSamples+s
		if err != nil {
			r.Seconds = -1
		}
		emit(r)
		if err := b.listen(port); err != nil {
			return err
		}
		if _, err := ksWaitWeight(c, svc, dst, func(w int) bool { return w == 1 }, ksPatience); err != nil {
			fmt.Fprintf(os.Stderr, "keepalived suite, %s: %s did not come back: %v\n", daemon, dst, err)
		}
	}

	dst := netip.AddrPortFrom(backends[0].addr, ksBasePort)
	for s := range ksSamples {
		time.Sleep(ksStill)
		weight++
		if err := ksWriteConf(daemon, d, services, dests, weight); err != nil {
			return err
		}
		start := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			return err
		}
		took, err := ksWaitWeight(c, libSvc(0), dst, func(w int) bool { return w == weight }, ksPatience)
		r := base
		r.Workload, r.Seconds, r.Objects, r.Rep = "reload-one-change", took.Sub(start).Seconds(), 1, rep*ksSamples+s
		if err != nil {
			r.Seconds = -1
		}
		emit(r)
	}
	return nil
}

// ksPatience is how long a change of the kernel is waited for.
const ksPatience = time.Minute

// ksStill is how long the table is left alone before a failure or a
// reload is timed: longer than ipvsd's default sync interval, since it
// writes once an interval at most, and a change that came sooner after
// the last sample's write would wait for the rest of it.
const ksStill = config.DefaultSyncInterval + time.Second

// ksWaitComplete waits until the table holds every real server of
// every virtual server, at weight 1 or more.
func ksWaitComplete(c *lib.Client, services, dests int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		vss, err := c.VirtualServers(ctx)
		cancel()
		if err != nil {
			return err
		}
		n := 0
		for _, vs := range vss {
			for _, dst := range vs.Destinations {
				if dst.Weight > 0 {
					n++
				}
			}
		}
		if len(vss) == services && n == services*dests {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %s the table has %d services and %d live destinations, want %d and %d", within, len(vss), n, services, services*dests)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ksWaitWeight polls the destination dst of svc until ok(its weight)
// holds (-1 for a destination not in the table), and returns the time
// of the first read that saw it.
func ksWaitWeight(c *lib.Client, svc lib.Service, dst netip.AddrPort, ok func(int) bool, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ds, err := c.Destinations(ctx, svc)
		cancel()
		now := time.Now()
		if err != nil {
			return now, err
		}
		w := -1
		for _, d := range ds {
			if d.Address == dst.Addr() && d.Port == dst.Port() {
				w = int(d.Weight)
			}
		}
		if ok(w) {
			return now, nil
		}
		if now.After(deadline) {
			return now, fmt.Errorf("weight %d after %s", w, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ksProc is a daemon, in a process group of its own.
type ksProc struct {
	cmd *exec.Cmd
	log string
}

// ksWriteConf writes the daemon's configuration, with weight w for the
// first real server: keepalived's, or ipvsd's imported from it.
func ksWriteConf(daemon string, d *ksDir, services, dests, w int) error {
	conf := filepath.Join(d.dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(ksConf(services, dests, w)), 0o644); err != nil {
		return err
	}
	if daemon != "ipvsd" {
		return nil
	}
	bin, err := ipvsdProgram()
	if err != nil {
		return err
	}
	if out, err := exec.Command(bin, "import-keepalived", "--config-id=bench", "-o", filepath.Join(d.dir, "ipvsd.yaml"), conf).CombinedOutput(); err != nil {
		return fmt.Errorf("ipvsd import-keepalived: %v: %s", err, out)
	}
	return nil
}

// ipvsdProgram is the ipvsd make bench puts beside the bench, or one on
// PATH.
func ipvsdProgram() (string, error) {
	if p, err := filepath.Abs("ipvsd"); err == nil {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return exec.LookPath("ipvsd")
}

func ksStart(daemon string, d *ksDir, services, dests, w int) (*ksProc, error) {
	if err := ksWriteConf(daemon, d, services, dests, w); err != nil {
		return nil, err
	}
	var argv []string
	switch daemon {
	case "keepalived":
		argv = []string{"keepalived", "--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--check",
			"--use-file", filepath.Join(d.dir, "keepalived.conf"), "--pid", filepath.Join(d.dir, "keepalived.pid"),
			"--checkers_pid", filepath.Join(d.dir, "checkers.pid"), "--vrrp_pid", filepath.Join(d.dir, "vrrp.pid")}
	default:
		bin, err := ipvsdProgram()
		if err != nil {
			return nil, err
		}
		argv = []string{bin, "run", "--config.file", filepath.Join(d.dir, "ipvsd.yaml"), "--no-config.watch",
			"--state.dir", filepath.Join(d.dir, "state"), "--web.listen-address", "unix:" + filepath.Join(d.dir, "ipvsd.sock")}
	}
	p := &ksProc{log: filepath.Join(d.dir, daemon+".log")}
	f, err := os.Create(p.log)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr, p.cmd.Dir = f, f, d.dir
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.ns.Do(p.cmd.Start); err != nil {
		return nil, err
	}
	return p, nil
}

// stop ends the daemon's process group, and waits for its leader.
func (p *ksProc) stop() {
	if err := stopDaemon(p.cmd, 30*time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "keepalived suite: %v\n", err)
	}
}

// tail is the end of the daemon's log, for an error.
func (p *ksProc) tail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// summary prints the head and the tail of the daemon's log, and its
// warnings and errors (the first 20), to standard error for who reads
// the bench's output.
func (p *ksProc) summary(daemon string, services, dests int) {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var bad []string
	for _, line := range lines {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") || strings.Contains(line, "rror") {
			bad = append(bad, line)
		}
	}
	fmt.Fprintf(os.Stderr, "keepalived suite, %s at %d x %d: %d lines logged, %d warnings and errors; its first, and its last lines:\n",
		daemon, services, dests, len(lines), len(bad))
	for _, part := range [][]string{bad[:min(len(bad), 20)], lines[:min(len(lines), 20)], lines[max(0, len(lines)-20):]} {
		for _, l := range part {
			fmt.Fprintln(os.Stderr, "   ", l)
		}
		fmt.Fprintln(os.Stderr, "    ...")
	}
}

// tableChanges counts the changes of the table the daemon has logged:
// ipvsd logs each write, keepalived each real server it adds or
// removes.
func (p *ksProc) tableChanges() int {
	b, _ := os.ReadFile(p.log)
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "msg=\"changed the table\"") || strings.Contains(line, "Removing service") ||
			strings.Contains(line, "Adding service") {
			n++
		}
	}
	return n
}

// group returns the processes of the daemon's group: keepalived's
// parent and checker child, ipvsd alone (and the checks it runs).
func (p *ksProc) group() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == p.cmd.Process.Pid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// cpu returns the CPU seconds (user and system) of the group's processes
// and of the children they waited for.
func (p *ksProc) cpu() float64 {
	var sum time.Duration
	for _, pid := range p.group() {
		if t, err := processCPU(pid, true); err == nil {
			sum += t
		}
	}
	return sum.Seconds()
}

// peakRSS returns the sum of the group's processes' peak RSS (VmHWM).
func (p *ksProc) peakRSS() int64 {
	var kib int64
	for _, pid := range p.group() {
		if n, err := processPeakRSS(pid); err == nil {
			kib += n
		}
	}
	return kib
}
