//go:build linux

package main

import (
	"fmt"
	"slices"
	"strings"
)

// suiteTitles introduce each suite's table in the report; a suite without
// one is titled by its name.
var suiteTitles = map[string]string{
	"reconcile": "Reconcile: converging a desired table, against kube-proxy's pattern on moby/ipvs",
	"ipvstest":  "ipvstest: the in-memory IPVS through the whole client path",
	"ipvsctl":   "ipvsctl against ipvsadm: restore and save",
	"exporter":  "Exporter: one scrape, against node_exporter's and telegraf's ways",
}

// suitesReport renders the results of the suites beyond the four
// workloads: per suite, a row per contender and workload, with the median
// time and its range, the rate, allocations per object and peak RSS.
func suitesReport(results []result) string {
	type row struct{ contender, workload string }
	groups := map[string]map[row][]result{}
	var order []string
	for _, r := range results {
		g := groups[r.Group]
		if g == nil {
			g = map[row][]result{}
			groups[r.Group] = g
			order = append(order, r.Group)
		}
		k := row{r.Contender, r.Workload}
		g[k] = append(g[k], r)
	}
	slices.Sort(order)
	var b strings.Builder
	for _, name := range order {
		title := suiteTitles[name]
		if title == "" {
			title = name
		}
		fmt.Fprintf(&b, "## %s\n\n", title)
		fmt.Fprintf(&b, "| contender | workload | services × dests | objects | time (median [min–max]) | objects/s | allocs per object | peak RSS | runs |\n|---|---|--:|--:|--:|--:|--:|--:|--:|\n")
		rows := make([]row, 0, len(groups[name]))
		for k := range groups[name] {
			rows = append(rows, k)
		}
		slices.SortFunc(rows, func(a, b row) int {
			return strings.Compare(a.workload+"\x00"+a.contender, b.workload+"\x00"+b.contender)
		})
		for _, k := range rows {
			rs := groups[name][k]
			var secs, allocs, rss []float64
			for _, r := range rs {
				secs = append(secs, r.Seconds)
				if r.Objects > 0 && r.Allocs >= 0 {
					allocs = append(allocs, float64(r.Allocs)/float64(r.Objects))
				}
				rss = append(rss, float64(r.RSSKiB))
			}
			m := median(secs)
			rate, al := "–", "n/a"
			if rs[0].Objects > 0 && m > 0 {
				rate = si(float64(rs[0].Objects)/m) + "/s"
			}
			if len(allocs) > 0 {
				al = fmt.Sprintf("%.2f", median(allocs))
			}
			fmt.Fprintf(&b, "| %s | %s | %d × %d | %d | %.3f s [%.3f–%.3f] | %s | %s | %.1f MiB | %d |\n",
				k.contender, k.workload, rs[0].Services, rs[0].Dests, rs[0].Objects, m, slices.Min(secs), slices.Max(secs), rate, al, median(rss)/1024, len(rs))
		}
		b.WriteString("\n")
	}
	return b.String()
}
