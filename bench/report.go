//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// names are the contenders' names in the report.
var names = map[string]string{
	"ipvs":       "this library, single calls",
	"ipvs-batch": "this library, Apply / VirtualServers",
	"cloudflare": "cloudflare/ipvs v0.12.0",
	"moby":       "moby/ipvs v1.1.0",
	"ipvsadm":    "ipvsadm -R / -Sn",
	"raw":        "raw floor",
}

type key struct {
	contender, workload string
	services            int
}

type stat struct {
	median, lo, hi float64 // seconds
	objects        int
	allocs         float64 // per object, median; -1 if not measured
	rss            int64   // KiB, median
	runs           int
}

// acc gathers the runs of one contender, workload and size.
type acc struct {
	secs, allocs, rss []float64
	objects           int
}

// accs2curve picks the receive buffer curve out of the results.
func accs2curve(accs map[key]*acc) []curvePoint {
	var points []curvePoint
	for k, a := range accs {
		var size int
		if _, err := fmt.Sscanf(k.contender, "buffer-%d", &size); err != nil || k.workload != "dump" {
			continue
		}
		points = append(points, curvePoint{size: size, services: k.services, median: median(a.secs), lo: slices.Min(a.secs), hi: slices.Max(a.secs)})
	}
	slices.SortFunc(points, func(a, b curvePoint) int { return a.size - b.size })
	return points
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report reads RESULT lines and writes the Markdown report and the chart.
func report(in, out, chart, micro string) error {
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	accs := map[key]*acc{}
	var suiteResults []result
	notes := map[string]string{}
	var sizes []int
	kernel := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if n, ok := parseNote(sc.Text()); ok {
			notes[n.Group] = n.Text
			continue
		}
		line, ok := strings.CutPrefix(sc.Text(), "RESULT ")
		if !ok {
			continue
		}
		var r result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return err
		}
		if r.Group != "" {
			suiteResults = append(suiteResults, r)
			continue
		}
		k := key{r.Contender, r.Workload, r.Services}
		a := accs[k]
		if a == nil {
			a = &acc{objects: r.Objects}
			accs[k] = a
		}
		a.secs = append(a.secs, r.Seconds)
		a.allocs = append(a.allocs, float64(r.Allocs)/float64(r.Objects))
		a.rss = append(a.rss, float64(r.RSSKiB))
		if !slices.Contains(sizes, r.Services) {
			sizes = append(sizes, r.Services)
		}
		kernel = r.Kernel
	}
	slices.Sort(sizes)
	sizes = slices.DeleteFunc(sizes, func(n int) bool {
		_, ok := accs[key{"ipvs", "create", n}]
		return !ok
	})
	stats := map[key]stat{}
	for k, a := range accs {
		al := median(a.allocs)
		if al < 0 {
			al = -1
		}
		stats[k] = stat{median: median(a.secs), lo: slices.Min(a.secs), hi: slices.Max(a.secs), objects: a.objects,
			allocs: al, rss: int64(median(a.rss)), runs: len(a.secs)}
	}

	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	cpu := "unknown"
	if c, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(c), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	p("# Benchmarks\n\n")
	p("Generated on %s from `bench/results.jsonl`, which `make bench` writes whole and `make bench-merge` updates with later runs of some suites (each suite says under its title when and on which kernel it ran). The four workloads ran on Debian's `%s`, booted under qemu with software emulation (TCG, 2 vCPUs, 1 GiB) on a host with 2 cores (this report was generated on one of %s). Emulation makes everything slower than on hardware, the Go side about 10–60×, so compare ratios, not seconds.\n\n", time.Now().UTC().Format("2006-01-02"), kernel, cpu)
	p("Each contender and repetition runs in a child process started in a fresh network namespace (removed destinations stay on a per-namespace list that later creations walk), and does four workloads in turn on S services with 10 destinations each: **create** all (S×11 objects), **read** all services with their destinations, **update** every destination's weight (S×10), **remove** all services (S). The raw floor sends prebuilt request bytes, 1000 to a datagram with an ACK asked of the last only, and counts replies without decoding. Times are medians with [min–max] over the runs; allocations are per object, peak RSS is the child's.\n\n")
	if n := notes[""]; n != "" {
		// The workloads belong to no suite; a merged run of them says
		// here how it ran.
		p("%s\n\n", n)
	}
	for _, n := range sizes {
		p("## %d services × 10 destinations\n\n", n)
		p("| workload |")
		for _, c := range contenders {
			p(" %s |", names[c])
		}
		p("\n|---|")
		for range contenders {
			p("--:|")
		}
		p("\n")
		for _, w := range workloads {
			p("| %s |", w)
			for _, c := range contenders {
				s, ok := stats[key{c, w, n}]
				if !ok {
					p(" – |")
					continue
				}
				p(" %.3f s [%.3f–%.3f]<br>%s/s |", s.median, s.lo, s.hi, si(float64(s.objects)/s.median))
			}
			p("\n")
		}
		p("| allocs per object (create / read / update / remove) |")
		for _, c := range contenders {
			var parts []string
			for _, w := range workloads {
				s := stats[key{c, w, n}]
				if s.allocs < 0 {
					parts = append(parts, "n/a")
				} else {
					parts = append(parts, fmt.Sprintf("%.2f", s.allocs))
				}
			}
			p(" %s |", strings.Join(parts, " / "))
		}
		p("\n| peak RSS |")
		for _, c := range contenders {
			p(" %.1f MiB |", float64(stats[key{c, "create", n}].rss)/1024)
		}
		p("\n| runs |")
		for _, c := range contenders {
			p(" %d |", stats[key{c, "create", n}].runs)
		}
		p("\n\n")

		ratio := func(a, bb string, w string) float64 {
			return stats[key{a, w, n}].median / stats[key{bb, w, n}].median
		}
		p("Ratios (medians; below 1 means faster than the other):\n\n")
		p("| workload | batch / raw floor | single / moby | batch / moby | batch / ipvsadm | batch / cloudflare | single / cloudflare |\n|---|--:|--:|--:|--:|--:|--:|\n")
		for _, w := range workloads {
			p("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", w, ratio("ipvs-batch", "raw", w), ratio("ipvs", "moby", w),
				ratio("ipvs-batch", "moby", w), ratio("ipvs-batch", "ipvsadm", w), ratio("ipvs-batch", "cloudflare", w), ratio("ipvs", "cloudflare", w))
		}
		p("\n")
	}
	b.WriteString(compatReport(stats, sizes))
	b.WriteString(suitesReport(suiteResults, notes))
	b.WriteString(curveTable(accs2curve(accs)))
	b.WriteString(targets(stats, sizes))
	b.WriteString(suiteTargets(suiteResults))
	b.WriteString(why(stats, sizes, micro))
	p("\n![median time per workload, log scale](%s)\n", filepath.Base(chart))
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return plot(stats, sizes, chart)
}

// curvePoint is the median dump time of one receive buffer size.
type curvePoint struct {
	size     int
	services int
	median   float64
	lo, hi   float64
}

func curveTable(points []curvePoint) string {
	if len(points) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "## Receive buffer and dump chunks\n\nA dump of %d services with each receive buffer size, on a new client each time (median and [min–max] of the runs). The kernel sizes a socket's dump chunks from the largest buffer it has read with, up to about 32 KiB, and walks the service table from its start for every chunk, so small buffers make dumps quadratic. The default is 64 KiB.\n\n| receive buffer | dump time |\n|--:|--:|\n", points[0].services)
	for _, p := range points {
		fmt.Fprintf(&b, "| %d KiB | %.3f s [%.3f–%.3f] |\n", p.size>>10, p.median, p.lo, p.hi)
	}
	b.WriteString("\n")
	return b.String()
}

// why explains the gap to the raw floor: per object, it is what encoding
// and decoding cost, which the floor skips by construction; the host's
// micro-benchmarks give their native cost.
func why(stats map[key]stat, sizes []int, micro string) string {
	var b strings.Builder
	b.WriteString("\n## Where the batch path spends its time above the floor\n\n")
	b.WriteString("The raw floor sends bytes built before its clock starts and counts replies without decoding them; the library must check and encode every write and decode every object. Per object, the gap between the two is:\n\n| workload | size | gap per object (emulated) |\n|---|--:|--:|\n")
	for _, n := range sizes {
		for _, w := range workloads {
			bs, rs := stats[key{"ipvs-batch", w, n}], stats[key{"raw", w, n}]
			if bs.objects == 0 {
				continue
			}
			fmt.Fprintf(&b, "| %s | %d | %.2f µs |\n", w, n, (bs.median-rs.median)/float64(bs.objects)*1e6)
		}
	}
	b.WriteString("\nThe same work measured natively on the host (`go test -bench`, no emulation), where the emulated guest runs Go code some 10–60× slower:\n\n```\n")
	if m, err := os.ReadFile(micro); err == nil {
		for _, l := range strings.Split(string(m), "\n") {
			if strings.HasPrefix(l, "Benchmark") {
				b.WriteString(l + "\n")
			}
		}
	}
	b.WriteString("```\n\nChecking and encoding a write (BatchBuild) and decoding a service or destination (DecodeService, DecodeDestination), times that factor, make up the gap: it is the cost of the work itself, which allocates nothing. The floor stays out of reach for a library that encodes and decodes")
	var within []string
	for _, n := range sizes {
		for _, w := range workloads {
			if r := stats[key{"ipvs-batch", w, n}].median / stats[key{"raw", w, n}].median; r <= 1.3 {
				within = append(within, fmt.Sprintf("%s at %d (%.2f×)", w, n, r))
			}
		}
	}
	if len(within) > 0 {
		b.WriteString("; within 1.3× of it in this run: " + strings.Join(within, ", "))
	}
	b.WriteString(".\n")
	return b.String()
}

// targets checks the targets and says which are met.
func targets(stats map[key]stat, sizes []int) string {
	var b strings.Builder
	b.WriteString("## Targets\n\n| target | size | measured | met |\n|---|--:|---|:-:|\n")
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	for _, n := range sizes {
		for _, w := range []string{"create", "update", "remove", "read"} {
			r := stats[key{"ipvs-batch", w, n}].median / stats[key{"raw", w, n}].median
			fmt.Fprintf(&b, "| batch within 1.3× of the raw floor: %s | %d | %.2f× | %s |\n", w, n, r, yes(r <= 1.3))
		}
		for _, w := range workloads {
			r := stats[key{"ipvs", w, n}].median / stats[key{"moby", w, n}].median
			fmt.Fprintf(&b, "| single calls no slower than moby/ipvs: %s | %d | %.2f× | %s |\n", w, n, r, yes(r <= 1))
		}
	}
	b.WriteString(compatTargets(stats, sizes))
	return b.String()
}

func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// plot draws the medians as grouped bars with gnuplot.
func plot(stats map[key]stat, sizes []int, chart string) error {
	dir, err := os.MkdirTemp("", "bench-plot")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var data strings.Builder
	data.WriteString("workload")
	for _, c := range contenders {
		fmt.Fprintf(&data, "\t%q", names[c])
	}
	data.WriteString("\n")
	for _, n := range sizes {
		for _, w := range workloads {
			fmt.Fprintf(&data, "\"%s %dk\"", w, n/1000)
			for _, c := range contenders {
				fmt.Fprintf(&data, "\t%g", stats[key{c, w, n}].median)
			}
			data.WriteString("\n")
		}
	}
	dat := filepath.Join(dir, "data.tsv")
	if err := os.WriteFile(dat, []byte(data.String()), 0o644); err != nil {
		return err
	}
	script := fmt.Sprintf(`set terminal pngcairo size 1400,700 font "sans,11"
set output %q
set title "IPVS: median seconds per workload (services x 10 destinations), lower is better, log scale"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set logscale y
set ylabel "seconds"
set key outside right top
set xtics rotate by -30
set grid ytics
plot for [i=2:%d] %q using i:xtic(1) title columnheader(i)
`, chart, len(contenders)+1, dat)
	cmd := exec.Command("gnuplot")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gnuplot: %v: %s", err, out)
	}
	return nil
}
