//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/fleet"
	"github.com/ipvs-go/ipvs/ipvsd/fleet/etcdtest"
)

// The fleet suites measure ipvsd directors that take their virtual
// servers from one real etcd (Debian's etcd-server, started here on
// loopback): each director is ipvsd's director, check scheduler and
// fleet source in this process, with an etcd client of its own, on a
// table of its own. "fleet" runs 3 directors on the kernel, each in a
// network namespace (in the VM); "fleet-fakes" runs 50 on ipvstest's
// in-memory IPVS (on the host). Each measures:
//   - from a write in etcd (one real server's weight, which selects every
//     director) to the last director's table change, over fleetRounds
//     writes: the median and the 99th percentile, and the writes each
//     director made for each change;
//   - etcd's load per director while nothing changes: requests per
//     second (gRPC messages etcd received) and watchers;
//   - a configuration of `services` virtual servers: the first read and
//     the table written at start-up on one more director, then a change
//     of one key that selects one director alone: the time to its table,
//     and the writes of every director.
func init() {
	registerSuite("fleet", func(services, _, rep int) error { return fleetSuite("fleet", 3, kernelTable, services, rep) })
	registerSuite("fleet-fakes", func(services, _, rep int) error { return fleetSuite("fleet-fakes", 50, fakeTable, services, rep) })
}

const (
	fleetRounds = 40
	fleetSmall  = 100 // virtual servers of the latency rounds
	// fleetSync is the directors' sync interval in the latency rounds,
	// which come fleetGap apart: a sync that writes comes at least an
	// interval after the last that did. The large configuration's
	// directors sync at the default interval.
	fleetSync      = time.Second
	fleetGap       = fleetSync + 200*time.Millisecond
	fleetSyncLarge = 5 * time.Second
	fleetIdle      = 20 * time.Second
	fleetLeaseTTL  = 15 * time.Second
)

// fleetConfig is n virtual servers of one real server each; the first
// has weight w, and selects node alone if node is set.
func fleetConfig(n int, w int, node string) string {
	var b strings.Builder
	b.WriteString("virtual_servers:\n")
	for i := range n {
		a := svcAddr(i)
		fmt.Fprintf(&b, "  - name: vs-%05d\n    address: %s\n    port: 80\n    lvs_sched: rr\n    checks: []\n", i, a)
		weight := 1
		if i == 0 {
			weight = w
			if node != "" {
				fmt.Fprintf(&b, "    nodes: [%s]\n", node)
			}
		}
		ra, rp := dstAddr(i, 0)
		fmt.Fprintf(&b, "    real_servers: [{address: %s, port: %d, weight: %d}]\n", ra, rp, weight)
	}
	return b.String()
}

// fleetApply writes a configuration as ipvsd fleet apply does, and
// returns when the write (not the validation and the read before it)
// began.
func fleetApply(ctx context.Context, w *fleet.Writer, yaml string) (time.Time, error) {
	desired, err := fleet.Split("bench.yaml", []byte(yaml))
	if err != nil {
		return time.Time{}, err
	}
	p, err := w.Plan(ctx, desired)
	if err != nil {
		return time.Time{}, err
	}
	start := time.Now()
	_, err = w.Apply(ctx, p, true)
	return start, err
}

func fleetSuite(group string, directors int, newTable func() (*ipvs.Client, func(), error), services, rep int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "fleet-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	e, err := etcdtest.Start(ctx, etcdtest.Options{Dir: dir, Args: []string{"--quota-backend-bytes=8589934592"}})
	if err != nil {
		return err
	}
	defer e.Kill()
	progress("%s: etcd up at %s", group, e.Endpoint())
	cli, err := fleet.Connection{Endpoints: []string{e.Endpoint()}}.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	layout, _ := fleet.NewLayout(fleet.DefaultPrefix)
	w := &fleet.Writer{Client: cli, Layout: layout, By: "bench"}
	count := directors
	emitF := func(workload string, objects int, seconds float64) {
		emit(result{Contender: fmt.Sprintf("ipvsd × %d", count), Services: services, Dests: 1, Rep: rep, Workload: workload,
			Objects: objects, Seconds: seconds, Allocs: -1, Group: group})
	}

	// The latency of one change.
	if _, err := fleetApply(ctx, w, fleetConfig(fleetSmall, 1, "")); err != nil {
		return err
	}
	var fleetDs []*benchDirector
	defer func() {
		for _, b := range fleetDs {
			b.close()
		}
	}()
	for i := range directors {
		b, err := startDirector(ctx, fmt.Sprintf("d%02d", i), e.Endpoint(), layout, fleetSync, newTable)
		if err != nil {
			return fmt.Errorf("director %d: %w", i, err)
		}
		fleetDs = append(fleetDs, b)
	}
	if err := waitAll(ctx, fleetDs, time.Time{}, fleetSmall); err != nil {
		return err
	}
	progress("%s: %d directors started", group, directors)
	var lat []float64
	extra := 0
	for round := range fleetRounds {
		// A quiet interval first, so that no sync waits on the last.
		time.Sleep(fleetGap)
		before := make([]int, len(fleetDs))
		for i, b := range fleetDs {
			_, before[i] = b.state()
		}
		start, err := fleetApply(ctx, w, fleetConfig(fleetSmall, 2+round%2, ""))
		if err != nil {
			return err
		}
		if err := waitAll(ctx, fleetDs, start, 0); err != nil {
			return err
		}
		last := time.Time{}
		for i, b := range fleetDs {
			t, n := b.state()
			if t.After(last) {
				last = t
			}
			extra += n - before[i] - 1
		}
		lat = append(lat, last.Sub(start).Seconds())
		if (round+1)%10 == 0 {
			progress("%s: %d of %d changes", group, round+1, fleetRounds)
		}
	}
	slices.Sort(lat)
	emitF("one change: write to the last table, median", len(lat), lat[len(lat)/2])
	emitF("one change: write to the last table, p99", len(lat), lat[min(len(lat)-1, len(lat)*99/100)])
	emitF("one change: writes beyond one per director", extra, 0)
	fmt.Fprintf(os.Stderr, "fleet %s: %d directors, %d rounds: median %.3fs, p99 %.3fs, max %.3fs, extra writes %d\n",
		group, directors, len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], extra)

	// etcd's load while nothing changes.
	m0, err := etcdMetrics(e.Endpoint())
	if err != nil {
		return err
	}
	time.Sleep(fleetIdle)
	m1, err := etcdMetrics(e.Endpoint())
	if err != nil {
		return err
	}
	reqs := m1["grpc_server_msg_received_total"] - m0["grpc_server_msg_received_total"]
	emitF("idle: etcd requests per director", int(reqs)/directors, fleetIdle.Seconds())
	emitF("idle: etcd watchers per director", int(m1["etcd_debugging_mvcc_watcher_total"])/directors, 0)
	for _, b := range fleetDs {
		b.close()
	}
	fleetDs = nil

	// services virtual servers: a start-up, then a change of one key.
	if _, err := fleetApply(ctx, w, fleetConfig(services, 1, "s00")); err != nil {
		return err
	}
	scale := min(directors, 3)
	count = scale
	progress("%s: %d virtual servers written; starting %d directors on them", group, services, scale)
	for i := range scale {
		start := time.Now()
		b, err := startDirector(ctx, fmt.Sprintf("s%02d", i), e.Endpoint(), layout, fleetSyncLarge, newTable)
		if err != nil {
			return err
		}
		read := time.Since(start)
		fleetDs = append(fleetDs, b)
		want := services - 1
		if i == 0 {
			want = services
		}
		if err := waitAll(ctx, fleetDs[i:], time.Time{}, want); err != nil {
			return err
		}
		if i == 0 {
			emitF("start-up: read every key and put them in force", services, read.Seconds())
			emitF("start-up: to the table written", services, time.Since(start).Seconds())
		}
	}
	time.Sleep(fleetSyncLarge + time.Second)
	before := make([]int, len(fleetDs))
	for i, b := range fleetDs {
		_, before[i] = b.state()
	}
	start, err := fleetApply(ctx, w, fleetConfig(services, 2, "s00"))
	if err != nil {
		return err
	}
	if err := waitAll(ctx, fleetDs[:1], start, 0); err != nil {
		return err
	}
	t, _ := fleetDs[0].state()
	// The others are given a sync interval to write, if they were going
	// to.
	time.Sleep(fleetSyncLarge + time.Second)
	writes := make([]string, len(fleetDs))
	selected, others := 0, 0
	for i, b := range fleetDs {
		_, n := b.state()
		writes[i] = strconv.Itoa(n - before[i])
		if i == 0 {
			selected = n - before[i]
		} else {
			others += n - before[i]
		}
	}
	emitF("one-key change: write to the table of the director it selects", services, t.Sub(start).Seconds())
	emitF("one-key change: writes of the director it selects", selected, 0)
	emitF("one-key change: writes of the others", others, 0)
	fmt.Fprintf(os.Stderr, "fleet %s: %d virtual servers: one-key change in %.3fs, writes by director %s\n",
		group, services, t.Sub(start).Seconds(), strings.Join(writes, " "))
	return nil
}

// progress says how far a suite has come, on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fleet: %s: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// etcdMetrics returns the sums of etcd's metrics by name.
func etcdMetrics(endpoint string) (map[string]float64, error) {
	resp, err := http.Get(endpoint + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
		}
		if i := strings.LastIndexByte(line, ' '); i >= 0 {
			rest = line[i+1:]
		}
		if v, err := strconv.ParseFloat(rest, 64); err == nil {
			out[name] += v
		}
	}
	return out, sc.Err()
}
