//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/moby/ipvs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/procfs"

	lib "github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/exporter/collector"
)

// The exporter suite measures one full scrape of a table of services ×
// destinations, from the kernel to the text exposition, three ways: this
// module's collector through WriteText, as ipvs_exporter serves it;
// node_exporter's ipvs collector (procfs parsing /proc/net/ip_vs and
// /proc/net/ip_vs_stats, then its series through a registry); and
// telegraf's inputs.ipvs (moby/ipvs listing the services and then each
// one's destinations, into tags and fields). Beside them, for
// transparency: the collector registered in a registry, as an importer
// may use it, and without destinations; and the reads alone (this
// library's, procfs's parse, moby's). Each contender runs in a process of
// its own in the suite's namespace, and scrapes three times; the last,
// warm, scrape is reported, as an exporter that runs for long scrapes
// warm, with the process's peak RSS (VmHWM: ru_maxrss would carry the
// parent's over the exec).
func init() { registerSuite("exporter", exporterSuite) }

// exporterContenderEnv names, in a child, the one contender to measure.
const exporterContenderEnv = "BENCH_EXPORTER_CONTENDER"

// The contenders: full scrapes first, then the reads alone.
var exporterContenders = []string{"collector", "collector-registry", "collector-nodests", "node-exporter", "telegraf",
	"ipvs-read", "procfs", "moby"}

func exporterSuite(services, dests, rep int) error {
	if name := os.Getenv(exporterContenderEnv); name != "" {
		return exporterScrape(name, services, dests, rep)
	}
	if err := createTable(services, dests); err != nil {
		return err
	}
	for _, name := range exporterContenders {
		// No new namespace: the child reads this one's table.
		if err := runContender("exporter", exporterContenderEnv, name, services, dests, rep, false); err != nil {
			return err
		}
	}
	return nil
}

// createTable fills this namespace's table with services × dests, as the
// exporter suites scrape it.
func createTable(services, dests int) error {
	c, err := lib.New(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	var b lib.Batch
	for i := range services {
		b.CreateService(libSvc(i))
		for j := range dests {
			b.CreateDestination(libSvc(i), libDst(i, j, 1))
		}
	}
	if _, err := c.Apply(context.Background(), &b); err != nil {
		return fmt.Errorf("create the table: %w", err)
	}
	return nil
}

// exporterScrape scrapes the table three times the way name does and
// emits the last.
func exporterScrape(name string, services, dests, rep int) error {
	scrape, err := newExporterScrape(name)
	if err != nil {
		return err
	}
	var objects int
	var secs float64
	var allocs int64
	for range 3 {
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		start := time.Now()
		objects, err = scrape()
		secs = time.Since(start).Seconds()
		runtime.ReadMemStats(&ms1)
		allocs = int64(ms1.Mallocs - ms0.Mallocs)
		if err != nil {
			return err
		}
	}
	if want := wantObjects(name, services, dests); objects != want {
		return fmt.Errorf("%s: %d objects, want %d", name, objects, want)
	}
	hwm, err := peakRSS(os.Getpid())
	if err != nil {
		return err
	}
	emit(result{Group: "exporter", Contender: name, Workload: "scrape", Services: services, Dests: dests, Rep: rep,
		Objects: objects, Seconds: secs, Allocs: allocs, RSSKiB: hwm})
	return nil
}

// wantObjects is what a full scrape of the table reads: for the
// collector, the series (six per service, ten per destination, and the
// global ones); for node_exporter's, its series (five global counters,
// three per backend).
func wantObjects(name string, services, dests int) int {
	switch name {
	case "collector", "collector-registry":
		return services*6 + services*dests*10 + exporterGlobalSeries
	case "collector-nodests":
		return services*6 + exporterGlobalSeries
	case "node-exporter":
		return 5 + services*dests*3
	case "procfs":
		return services * dests
	}
	return services * (1 + dests)
}

// exporterGlobalSeries are the collector's series beyond the table's:
// ipvs_up, the scrape duration, four scrape error counters, ipvs_info,
// the table size and three timeouts.
const exporterGlobalSeries = 11

// peakRSS returns the peak resident set of a process, in KiB.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// newExporterScrape returns one scrape of the contender name; it returns
// the objects read (for the collector, the series written).
func newExporterScrape(name string) (func() (int, error), error) {
	switch name {
	case "collector", "collector-registry", "collector-nodests":
		c, err := lib.New(nil)
		if err != nil {
			return nil, err
		}
		var opts []collector.Option
		if name == "collector-nodests" {
			opts = append(opts, collector.WithoutDestinations())
		}
		// Under emulation a scrape of a large table takes far longer than
		// the default bound.
		coll, err := collector.New(c, append(opts, collector.WithTimeout(10*time.Minute))...)
		if err != nil {
			return nil, err
		}
		if name == "collector-registry" {
			reg := prometheus.NewRegistry()
			reg.MustRegister(coll)
			return func() (int, error) { return gatherText(reg) }, nil
		}
		return func() (int, error) {
			var w seriesCounter
			err := collector.WriteText(context.Background(), &w, coll)
			return w.n, err
		}, nil
	case "node-exporter":
		c, err := newNodeIPVS()
		if err != nil {
			return nil, err
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(c)
		return func() (int, error) { return gatherText(reg) }, nil
	case "telegraf":
		h, err := ipvs.New("")
		if err != nil {
			return nil, err
		}
		return func() (int, error) {
			ms, err := telegrafGather(h)
			return len(ms), err
		}, nil
	case "ipvs-read":
		c, err := lib.New(nil)
		if err != nil {
			return nil, err
		}
		return func() (int, error) {
			vss, err := c.VirtualServers(context.Background())
			n := len(vss)
			for _, vs := range vss {
				n += len(vs.Destinations)
			}
			return n, err
		}, nil
	case "procfs":
		fs, err := procfs.NewFS("/proc")
		if err != nil {
			return nil, err
		}
		return func() (int, error) {
			if _, err := fs.IPVSStats(); err != nil {
				return 0, err
			}
			backends, err := fs.IPVSBackendStatus()
			return len(backends), err
		}, nil
	case "moby":
		h, err := ipvs.New("")
		if err != nil {
			return nil, err
		}
		return func() (int, error) {
			svcs, err := h.GetServices()
			if err != nil {
				return 0, err
			}
			n := len(svcs)
			for _, s := range svcs {
				ds, err := h.GetDestinations(s)
				if err != nil {
					return 0, err
				}
				n += len(ds)
			}
			return n, nil
		}, nil
	}
	return nil, fmt.Errorf("unknown exporter contender %q", name)
}

// gatherText gathers g and writes the text exposition, as promhttp
// does, to nowhere; it returns the number of series.
func gatherText(g prometheus.Gatherer) (int, error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, err
	}
	enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
	n := 0
	for _, mf := range mfs {
		n += len(mf.GetMetric())
		if err := enc.Encode(mf); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// seriesCounter counts the series of a text exposition written to it: its
// lines that are not comments, however the writes cut them.
type seriesCounter struct {
	n    int
	last byte // of the previous write; 0 before the first
}

func (c *seriesCounter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.n += bytes.Count(p, []byte("\n")) - bytes.Count(p, []byte("\n#"))
	if p[0] == '#' && (c.last == 0 || c.last == '\n') {
		c.n--
	}
	c.last = p[len(p)-1]
	return len(p), nil
}
