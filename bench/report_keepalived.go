//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// keepalivedReport renders the keepalived suite: per size and daemon,
// its share of a core and probes a second over the steady window, the
// table changes it made meanwhile (none is right: no backend changed),
// peak RSS, and the medians of failure-to-change and reload times.
func keepalivedReport(rs []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| services × dests | daemon | checks configured a second | probes received a second | CPU (share of one core) | table changes while nothing changed | peak RSS | failure → kernel change (median [min–max]) | reload of one change → kernel (median [min–max]) | runs |\n|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, size := range ksSizes(rs) {
		for _, daemon := range []string{"keepalived", "ipvsd"} {
			s := ksStats(rs, daemon, size)
			if s.runs == 0 {
				continue
			}
			fmt.Fprintf(&b, "| %d × %d | %s | %d | %.0f | %.2f | %.0f | %.1f MiB | %s | %s | %d |\n", size[0], size[1], daemon,
				ksConfigured(daemon, size), s.probes, s.cpu, s.changes, s.rss/1024, ksRange(s.failure), ksRange(s.reload), s.runs)
		}
	}
	fmt.Fprintf(&b, "\nThe steady window is %s, after the table is complete and %s more; CPU counts every process of the daemon (keepalived's parent and checker child). Virtual server i's real servers are port 8000 + i mod %d of each backend: with more virtual servers than that, several share each endpoint with the same check, which ipvsd probes once a second and keepalived once per virtual server; with as many or fewer, both probe as much. The backends answer in the same emulated machine, so a probe costs the machine the backend's side too. Each failure and each reload is timed after the table has been left alone for %s: ipvsd writes once a sync interval at most (%s by default), so that a change that comes sooner after another write waits for the rest of the interval.\n\n", ksWindow, ksSettle, ksPorts, ksStill, config.DefaultSyncInterval)
	return b.String()
}

// ksConfigured is how many checks a second the daemon's configuration
// asks for: keepalived one per real server of each virtual server, ipvsd
// one per distinct check.
func ksConfigured(daemon string, size [2]int) int {
	if daemon == "keepalived" {
		return size[0] * size[1]
	}
	return min(size[0], ksPorts) * size[1]
}

// ksSizes returns the sizes the suite ran, in order.
func ksSizes(rs []result) [][2]int {
	var out [][2]int
	for _, r := range rs {
		if s := [2]int{r.Services, r.Dests}; r.Group == "keepalived" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b [2]int) int { return a[0]*a[1] - b[0]*b[1] })
	return out
}

// ksSummary is one daemon's medians over the suite's runs of a size.
type ksSummary struct {
	runs                      int
	cpu, probes, rss, changes float64
	failure, reload           []float64
}

func ksStats(rs []result, daemon string, size [2]int) ksSummary {
	var s ksSummary
	var cpu, probes, rss, changes []float64
	for _, r := range rs {
		if r.Group != "keepalived" || r.Contender != daemon || r.Services != size[0] || r.Dests != size[1] {
			continue
		}
		switch r.Workload {
		case "steady":
			cpu = append(cpu, r.CPUSeconds/r.Seconds)
			probes = append(probes, float64(r.Objects)/r.Seconds)
			rss = append(rss, float64(r.RSSKiB))
		case "steady-table-changes":
			changes = append(changes, float64(r.Objects))
		case "failure-to-change":
			s.failure = append(s.failure, r.Seconds)
		case "reload-one-change":
			s.reload = append(s.reload, r.Seconds)
		}
	}
	s.runs = len(cpu)
	if s.runs > 0 {
		s.cpu, s.probes, s.rss = median(cpu), median(probes), median(rss)
	}
	if len(changes) > 0 {
		s.changes = median(changes)
	}
	return s
}

// ksRange renders times in seconds; -1 is a change that did not come
// within the suite's patience, counted as the longest.
func ksRange(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	never := 0
	var ok []float64
	for _, x := range v {
		if x < 0 {
			never++
		} else {
			ok = append(ok, x)
		}
	}
	if len(ok) == 0 {
		return fmt.Sprintf("none within %s (%d)", ksPatience, never)
	}
	s := fmt.Sprintf("%.0f ms [%.0f–%.0f]", median(ok)*1000, slices.Min(ok)*1000, slices.Max(ok)*1000)
	if never > 0 {
		s += fmt.Sprintf(", and %d not within %s", never, ksPatience)
	}
	return s
}

// ksMedian is the median of times, a change that never came (-1)
// counting as the longest.
func ksMedian(v []float64) float64 {
	w := make([]float64, len(v))
	for i, x := range v {
		w[i] = x
		if x < 0 {
			w[i] = ksPatience.Seconds() * 10
		}
	}
	return median(w)
}

// keepalivedTargets checks issue 19's targets at each size: ipvsd at or
// below keepalived on CPU and memory, faster from a failure and a reload
// to the kernel's change, and fewer probes where checks are shared.
func keepalivedTargets(rs []result, row func(target, size, measured string, ok bool)) {
	for _, size := range ksSizes(rs) {
		k, i := ksStats(rs, "keepalived", size), ksStats(rs, "ipvsd", size)
		if k.runs == 0 || i.runs == 0 {
			continue
		}
		sz := fmt.Sprintf("%d × %d", size[0], size[1])
		row("ipvsd against keepalived: CPU at or below", sz, fmt.Sprintf("%.2f against %.2f of a core", i.cpu, k.cpu), i.cpu <= k.cpu)
		row("ipvsd against keepalived: peak memory at or below", sz, fmt.Sprintf("%.1f against %.1f MiB", i.rss/1024, k.rss/1024), i.rss <= k.rss)
		if ksConfigured("ipvsd", size) < ksConfigured("keepalived", size) {
			row("ipvsd against keepalived: fewer probes where checks are shared", sz, fmt.Sprintf("%.0f against %.0f a second", i.probes, k.probes), i.probes < k.probes)
		}
		if len(i.failure) > 0 && len(k.failure) > 0 {
			fi, fk := ksMedian(i.failure), ksMedian(k.failure)
			row("ipvsd against keepalived: faster from a backend's failure to the kernel's change", sz, fmt.Sprintf("%.0f against %.0f ms", fi*1000, fk*1000), fi < fk)
		}
		if len(i.reload) > 0 && len(k.reload) > 0 {
			ri, rk := ksMedian(i.reload), ksMedian(k.reload)
			row("ipvsd against keepalived: faster from a reload of one change to the kernel's", sz, fmt.Sprintf("%.0f against %.0f ms", ri*1000, rk*1000), ri < rk)
		}
	}
}
