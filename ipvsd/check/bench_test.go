//go:build linux

package check

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The benchmarks of the scheduler run 10,000 HTTP checks a second (100
// backends × 100 paths, each check once a second) and report, per check:
// the CPU time of this process (user and system, and user alone: on
// loopback the kernel's share includes much of the backends' side of
// each handshake, which a real network charges elsewhere; the backends
// run in a child process, so that their own cost is not counted), the bytes
// allocated, and the share of one core the checker used, with the heap
// in use at the end.
//
//	go test -run '^$' -bench Scheduler -benchtime 50000x ./check

// benchBackendsEnv, when set in the environment of this test binary,
// makes it serve as the benchmarks' backends instead of testing.
const benchBackendsEnv = "IPVSD_CHECK_BENCH_BACKENDS"

func TestMain(m *testing.M) {
	if n := os.Getenv(benchBackendsEnv); n != "" {
		serveBackends(n)
		return
	}
	os.Exit(m.Run())
}

// serveBackends listens on n loopback ports, prints them, and answers
// every request with a 200 until its standard input closes.
func serveBackends(n string) {
	count, _ := strconv.Atoi(n)
	var ports []string
	for range count {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		ports = append(ports, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					drain(c)
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
				}()
			}
		}()
	}
	fmt.Println("PORTS", strings.Join(ports, " "))
	io.Copy(io.Discard, os.Stdin)
}

var backends struct {
	once  sync.Once
	ports []uint16
	stdin io.WriteCloser // held open: the backends end when it closes
	err   error
}

// benchBackends starts the backends' process once for all benchmarks;
// it ends with the test binary (its standard input closes).
func benchBackends(b *testing.B) []uint16 {
	backends.once.Do(func() {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), benchBackendsEnv+"=100")
		cmd.Stderr = os.Stderr
		backends.stdin, _ = cmd.StdinPipe()
		out, _ := cmd.StdoutPipe()
		if backends.err = cmd.Start(); backends.err != nil {
			return
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		fields := strings.Fields(line)
		if err != nil || len(fields) == 0 || fields[0] != "PORTS" {
			backends.err = fmt.Errorf("backends said %q: %v", line, err)
			return
		}
		for _, f := range fields[1:] {
			p, _ := strconv.Atoi(f)
			backends.ports = append(backends.ports, uint16(p))
		}
	})
	if backends.err != nil {
		b.Fatal(backends.err)
	}
	return backends.ports
}

// counter counts attempts, and failed ones.
type counter struct {
	probes, failed atomic.Int64
	last           atomic.Value // the last error
}

func (c *counter) Probed(_ Key, _ Kind, r Result) {
	c.probes.Add(1)
	if !r.OK() {
		c.failed.Add(1)
		c.last.Store(r.Err.Error())
	}
}
func (c *counter) Changed(Status) {}

// cpuTime returns the CPU time this process has used, in user space
// and in the kernel.
func cpuTime() (user, sys time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// benchScheduler runs 10,000 checks a second of kind, probed by probe
// (nil: the real probes), until b.N attempts have ended after a second
// of warm-up, and reports what they cost.
func benchScheduler(b *testing.B, kind Kind, probe ProbeFunc) {
	ports := benchBackends(b)
	var defs []Definition
	for _, port := range ports {
		for path := range 100 {
			defs = append(defs, Definition{Kind: kind, Target: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port),
				Interval: time.Second, Timeout: time.Second, Warmup: time.Second,
			})
			if kind == KindHTTP {
				defs[len(defs)-1].HTTP.Path = "/check/" + strconv.Itoa(path)
			} else {
				defs[len(defs)-1].Rise = path + 1
			}
		}
	}
	c := &counter{}
	s := NewScheduler(Options{Probe: probe, Observer: c})
	if err := s.Set(defs); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(time.Second)

	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	user0, sys0 := cpuTime()
	start, p0 := time.Now(), c.probes.Load()
	b.ResetTimer()
	for c.probes.Load()-p0 < int64(b.N) {
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	wall, n := time.Since(start), c.probes.Load()-p0
	user, sys := cpuTime()
	user, sys = user-user0, sys-sys0
	cpu := user + sys
	runtime.ReadMemStats(&m1)
	if f := c.failed.Load(); f > 0 {
		// A loaded machine makes some time out; they are counted, as a
		// benchmark measures.
		b.Logf("%d of %d attempts failed, the last with %v", f, c.probes.Load(), c.last.Load())
	}
	b.ReportMetric(float64(c.failed.Load()), "failed")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/check")
	b.ReportMetric(float64(user.Nanoseconds())/float64(n), "user-ns/check")
	b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(n), "B/check")
	b.ReportMetric(float64(n)/wall.Seconds(), "checks/s")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cores")
	b.ReportMetric(float64(m1.HeapInuse)/(1<<20), "heap-MiB")
}

// BenchmarkSchedulerHTTP is 10,000 HTTP checks a second against real
// backends.
func BenchmarkSchedulerHTTP(b *testing.B) { benchScheduler(b, KindHTTP, nil) }

// BenchmarkSchedulerTCP is 10,000 TCP checks a second against the same.
func BenchmarkSchedulerTCP(b *testing.B) { benchScheduler(b, KindTCP, nil) }

// BenchmarkSchedulerAlone is the scheduler's own cost: 10,000 checks a
// second whose probe does nothing.
func BenchmarkSchedulerAlone(b *testing.B) {
	benchScheduler(b, KindHTTP, func(context.Context, *Definition) Outcome { return Outcome{} })
}

// BenchmarkProbeHTTP is one HTTP probe after another against one
// backend, with its CPU time per probe.
func BenchmarkProbeHTTP(b *testing.B) {
	ports := benchBackends(b)
	s, err := prepare(Definition{Kind: KindHTTP, Target: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[0]),
		Timeout: time.Second, HTTP: HTTPCheck{Path: "/check"}})
	if err != nil {
		b.Fatal(err)
	}
	benchSerial(b, func(ctx context.Context) error { return s.probe(ctx).Err })
}

// BenchmarkExchangeFloor is what the probe of BenchmarkProbeHTTP does
// with the net package alone: dial, write the request, read until the
// backend closes, close. It is the floor the probe is measured against.
func BenchmarkExchangeFloor(b *testing.B) {
	ports := benchBackends(b)
	addr := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ports[0]).String()
	req := []byte("GET /check HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	buf := make([]byte, 4096)
	benchSerial(b, func(ctx context.Context) error {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write(req); err != nil {
			return err
		}
		for {
			if _, err := c.Read(buf); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	})
}

// benchSerial runs f b.N times and reports its CPU time per run.
func benchSerial(b *testing.B, f func(context.Context) error) {
	user0, sys0 := cpuTime()
	b.ResetTimer()
	for range b.N {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := f(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	user, sys := cpuTime()
	b.ReportMetric(float64((user-user0+sys-sys0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64((user-user0).Nanoseconds())/float64(b.N), "user-ns/op")
}
