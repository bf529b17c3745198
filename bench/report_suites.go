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
	"reconcile":     "Reconcile: converging a desired table, against kube-proxy's pattern on moby/ipvs",
	"ipvstest":      "ipvstest: the in-memory IPVS through the whole client path",
	"ipvsctl":       "ipvsctl against ipvsadm: restore and save",
	"exporter":      "Exporter: one scrape, against node_exporter's and telegraf's ways",
	"exporter-load": "ipvs_exporter: peak RSS under one scrape and under 50 at once",
	"conntrack":     "Conntrack flush: the entries of removed real servers among all (services = entries), against conntrack -D and ti-mo/conntrack",
	"fleet":         "ipvsd fleet: 3 directors on the kernel, in namespaces, and one etcd (services: the large configuration)",
	"fleet-fakes":   "ipvsd fleet: 50 directors on ipvstest and one etcd, on the host (services: the large configuration)",
}

// suiteAbout says what a suite's table measures where the common
// columns do not say it all; the report prints it under the conditions.
var suiteAbout = map[string]string{
	"ipvsctl": "Each command runs as a process of its own, twice, on identical tables: its time, from its start to its exit, comes from a run of it alone; its peak RSS from a run under ptrace, as its own high-water mark (VmHWM) read at its exit, not as its rusage's maxrss, which Linux floors at the bench's own peak across the exec. Tracing stops a process at every signal, which slows ipvsctl (Go preempts with signals) and not ipvsadm.",
}

// suiteTables render the table of a suite that has one of its own; the
// others get suitesReport's.
var suiteTables = map[string]func([]result) string{}

// suitesReport renders the results of the suites beyond the four
// workloads: per suite, when and on which kernels it ran, its note, and a
// row per contender and workload, with the median time and its range, the
// rate, allocations per object and peak RSS.
func suitesReport(results []result, notes map[string]string) string {
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
		b.WriteString(suiteConditions(groups[name], notes[name]))
		if about := suiteAbout[name]; about != "" {
			b.WriteString(about + "\n\n")
		}
		if table := suiteTables[name]; table != nil {
			b.WriteString(table(results))
			continue
		}
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

// suiteConditions says when and on which kernels a suite's results were
// measured, as far as they record it, and the note of its merged runs.
func suiteConditions[K comparable](rows map[K][]result, text string) string {
	var kernels, dates []string
	for _, rs := range rows {
		for _, r := range rs {
			if !slices.Contains(kernels, r.Kernel) {
				kernels = append(kernels, r.Kernel)
			}
			if r.Date != "" {
				dates = append(dates, r.Date)
			}
		}
	}
	slices.Sort(kernels)
	var b strings.Builder
	fmt.Fprintf(&b, "Kernel `%s`", strings.Join(kernels, "`, `"))
	if len(dates) > 0 {
		fmt.Fprintf(&b, "; measured %s to %s UTC", slices.Min(dates), slices.Max(dates))
	}
	b.WriteString(".")
	if text != "" {
		b.WriteString(" " + text)
	}
	b.WriteString("\n\n")
	return b.String()
}

// fleetTargets checks the fleet's targets: one change on all 50
// directors in under a second at the median; a change of one key makes
// exactly one write on the director it selects and none on the others.
func fleetTargets[K comparable](row func(target, size, measured string, ok bool), secs map[K][]float64, last map[K]result) {
	find := func(group, workload string) (result, []float64, bool) {
		for key, r := range last {
			if r.Group == group && r.Workload == workload {
				return r, secs[key], true
			}
		}
		return result{}, nil, false
	}
	if r, s, ok := find("fleet-fakes", "one change: write to the last table, median"); ok {
		m := median(s)
		row("fleet: one change converged on all 50 directors in under 1 s at the median", r.Contender, fmt.Sprintf("%.3f s", m), m < 1)
	}
	for _, g := range []string{"fleet", "fleet-fakes"} {
		sel, _, ok1 := find(g, "one-key change: writes of the director it selects")
		others, _, ok2 := find(g, "one-key change: writes of the others")
		if ok1 && ok2 {
			row("fleet ("+g+"): a one-key change makes one write on the director it selects, none elsewhere",
				fmt.Sprintf("%d virtual servers", sel.Services), fmt.Sprintf("%d and %d", sel.Objects, others.Objects),
				sel.Objects == 1 && others.Objects == 0)
		}
	}
}

// suiteTargets checks the suites' targets: reconcile's 1 % convergence at
// least 5× faster than kube-proxy's pattern, with exactly the changed
// writes, and a converged table's none; the exporter's full scrape faster
// than node_exporter's and telegraf's; ipvsctl's restore at least 10×
// faster than ipvsadm's, at no more than twice its peak RSS. Medians; a
// suite not run is left out.
func suiteTargets(results []result) string {
	type k struct{ group, contender, workload string }
	secs := map[k][]float64{}
	rss := map[k][]float64{}
	last := map[k]result{}
	for _, r := range results {
		key := k{r.Group, r.Contender, r.Workload}
		secs[key] = append(secs[key], r.Seconds)
		rss[key] = append(rss[key], float64(r.RSSKiB))
		last[key] = r
	}
	size := func(key k) string { return fmt.Sprintf("%d × %d", last[key].Services, last[key].Dests) }
	var b strings.Builder
	row := func(target, size, measured string, ok bool) {
		met := "yes"
		if !ok {
			met = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", target, size, measured, met)
	}
	ratio := func(a, c k) (float64, bool) {
		if len(secs[a]) == 0 || len(secs[c]) == 0 {
			return 0, false
		}
		return median(secs[a]) / median(secs[c]), true
	}
	ours, kube := k{"reconcile", "ipvs-reconcile", "converge-1pct"}, k{"reconcile", "kube-proxy-moby", "converge-1pct"}
	if r, ok := ratio(kube, ours); ok {
		o := last[ours]
		row("reconcile, 1 % changed: at least 5× faster than kube-proxy's pattern on moby/ipvs", size(ours), fmt.Sprintf("%.2f×", r), r >= 5)
		row("reconcile, 1 % changed: writes exactly the changed destinations", size(ours),
			fmt.Sprintf("%d writes of %d", o.Objects, recWant(1, o.Services, o.Dests)), o.Objects == recWant(1, o.Services, o.Dests))
		none := k{"reconcile", "ipvs-reconcile", "converge-none"}
		row("reconcile, converged: one read, no writes", size(none), fmt.Sprintf("%d writes", last[none].Objects), last[none].Objects == 0)
	}
	theirs, mine := k{"ipvsctl", "ipvsadm", "restore"}, k{"ipvsctl", "ipvsctl", "restore"}
	if r, ok := ratio(theirs, mine); ok {
		row("ipvsctl -R into an empty table: at least 10× faster than ipvsadm -R", size(mine), fmt.Sprintf("%.1f×", r), r >= 10)
		for _, w := range []string{"restore", "restore-unchanged"} {
			m := median(rss[k{"ipvsctl", "ipvsctl", w}]) / median(rss[theirs])
			row("ipvsctl -R ("+w+"): peak RSS at most 2× ipvsadm -R's", size(mine), fmt.Sprintf("%.2f×", m), m <= 2)
		}
	}
	scrape := k{"exporter", "collector", "scrape"}
	for _, peer := range []string{"node-exporter", "telegraf"} {
		if r, ok := ratio(scrape, k{"exporter", peer, "scrape"}); ok {
			row("exporter: a full scrape faster than "+peer+"'s, while exporting more", size(scrape), fmt.Sprintf("%.2f×", r), r < 1)
		}
	}
	fleetTargets(row, secs, last)
	for _, t := range moreTargets {
		t(results, row)
	}
	return b.String()
}

// moreTargets are the targets of suites that keep theirs in their own
// file; each adds its rows with row.
var moreTargets []func(results []result, row func(target, size, measured string, ok bool))
