//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"
)

// keepalivedReport renders the keepalived suite: per daemon, its share
// of a core and probes a second over the steady window, peak RSS, and
// the medians of failure-to-change and reload times.
func keepalivedReport(rs []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "| daemon | services × dests | CPU (share of one core) | probes/s | peak RSS | failure → kernel change (median [min–max]) | reload of one change → kernel (median [min–max]) | runs |\n|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, daemon := range []string{"keepalived", "ipvsd"} {
		s := ksStats(rs, daemon)
		if s.runs == 0 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %d × %d | %.2f | %.0f | %.1f MiB | %s | %s | %d |\n", daemon, s.services, s.dests, s.cpu, s.probes,
			s.rss/1024, ksRange(s.failure), ksRange(s.reload), s.runs)
	}
	b.WriteString("\nThe steady window is 30 s, after the table is complete and 10 s more; CPU counts every process of the daemon (keepalived's parent and checker child). Each endpoint serves 10 of the virtual servers with the same check: ipvsd probes it once a second, keepalived once per virtual server.\n\n")
	return b.String()
}

// ksSummary is one daemon's medians over the suite's runs.
type ksSummary struct {
	services, dests, runs int
	cpu, probes, rss      float64
	failure, reload       []float64
}

func ksStats(rs []result, daemon string) ksSummary {
	var s ksSummary
	var cpu, probes, rss []float64
	for _, r := range rs {
		if r.Group != "keepalived" || r.Contender != daemon {
			continue
		}
		s.services, s.dests = r.Services, r.Dests
		switch r.Workload {
		case "steady":
			cpu = append(cpu, r.CPUSeconds/r.Seconds)
			probes = append(probes, float64(r.Objects)/r.Seconds)
			rss = append(rss, float64(r.RSSKiB))
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
	return s
}

func ksRange(v []float64) string {
	if len(v) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f ms [%.0f–%.0f]", median(v)*1000, slices.Min(v)*1000, slices.Max(v)*1000)
}

// keepalivedTargets checks issue 19's targets: ipvsd at or below
// keepalived on CPU and memory, faster from a failure and a reload to the
// kernel's change, and fewer probes where checks are shared.
func keepalivedTargets(rs []result, row func(target, size, measured string, ok bool)) {
	k, i := ksStats(rs, "keepalived"), ksStats(rs, "ipvsd")
	if k.runs == 0 || i.runs == 0 {
		return
	}
	size := fmt.Sprintf("%d × %d", i.services, i.dests)
	row("ipvsd against keepalived: CPU at or below", size, fmt.Sprintf("%.2f against %.2f of a core", i.cpu, k.cpu), i.cpu <= k.cpu)
	row("ipvsd against keepalived: peak memory at or below", size, fmt.Sprintf("%.1f against %.1f MiB", i.rss/1024, k.rss/1024), i.rss <= k.rss)
	row("ipvsd against keepalived: fewer probes where checks are shared", size, fmt.Sprintf("%.0f against %.0f a second", i.probes, k.probes), i.probes < k.probes)
	if len(i.failure) > 0 && len(k.failure) > 0 {
		fi, fk := median(i.failure), median(k.failure)
		row("ipvsd against keepalived: faster from a backend's failure to the kernel's change", size, fmt.Sprintf("%.0f against %.0f ms", fi*1000, fk*1000), fi < fk)
	}
	if len(i.reload) > 0 && len(k.reload) > 0 {
		ri, rk := median(i.reload), median(k.reload)
		row("ipvsd against keepalived: faster from a reload of one change to the kernel's", size, fmt.Sprintf("%.0f against %.0f ms", ri*1000, rk*1000), ri < rk)
	}
}
