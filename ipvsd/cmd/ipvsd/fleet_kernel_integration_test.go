//go:build integration && linux

package main

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ipvs-go/ipvs/ipvsd/fleet"
)

// TestKernelFleet: three directors in three namespaces against one
// etcd: a change written once reaches the three kernels; with etcd
// killed, the tables follow the checks as backends fail and recover,
// and converge to etcd's state after, resuming from their revisions; a
// director cut off from etcd by its link keeps serving and, once back,
// reads everything again when its revision was compacted meanwhile; of
// two concurrent applies by two writers, one wins and the other is told
// what changed.
func TestKernelFleet(t *testing.T) {
	l := newFleetLab(t)
	// Bounds the test's own requests to etcd, not how long a step may
	// take: each step waits on its condition with a deadline of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for n := 1; n <= 3; n++ {
		l.backend(n)
	}
	up := map[int]int{1: 1, 2: 1, 3: 1}

	// One write reaches every kernel, rack1 only those of rack r1.
	l.apply(fleetConfigOf(80, 1, 2, 3))
	l.allWant("the first configuration in the three kernels", time.Minute, 80, up)
	took := time.Now()
	l.apply(fleetConfigOf(8080, 1, 2, 3))
	l.allWant("a change in the three kernels", time.Minute, 8080, up)
	t.Logf("a change reached the three kernels within %v", time.Since(took).Round(time.Millisecond))

	// etcd killed: the tables follow the checks.
	l.etcd.Kill()
	for _, d := range l.directors {
		l.eventually(d.name+" says etcd is unreachable", 30*time.Second, func() bool { return !d.fleetStatus(t).Connected })
	}
	l.stopBackend(2)
	l.allWant("backend 2 failed, without etcd", 30*time.Second, 8080, map[int]int{1: 1, 2: 0, 3: 1})
	l.serves("backend 2 failed, without etcd", 8080, 6)
	l.backend(2)
	l.allWant("backend 2 back, without etcd", 30*time.Second, 8080, up)
	// A director restarted meanwhile starts from its local copy.
	l.stop(l.directors[0])
	l.start(l.directors[0])
	l.allWant("d1 restarted without etcd", 30*time.Second, 8080, up)
	if st := l.directors[0].fleetStatus(t); st.Connected || st.Revision == 0 {
		t.Errorf("d1 restarted without etcd: %+v", st)
	}
	if err := l.etcd.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	l.apply(fleetConfigOf(8080, 1, 3))
	l.allWant("etcd's state after its restart", time.Minute, 8080, map[int]int{1: 1, 3: 1})
	for _, d := range l.directors {
		l.eventually(d.name+" says etcd is back", 30*time.Second, func() bool { return d.fleetStatus(t).Connected })
		// They resumed from their revisions: the one full read of each is
		// its first (d1, started from its copy, made none).
		wantReads := `ipvsd_fleet_full_reads_total{reason="start"} 1`
		if d.name == "d1" {
			wantReads = ""
		}
		if reads := grepLines(d.get(t, "/metrics"), "ipvsd_fleet_full_reads_total{"); reads != wantReads {
			t.Errorf("%s's full reads after etcd's restart: %q, want %q", d.name, reads, wantReads)
		}
	}

	// d3 cut off from etcd by its link, taken down at etcd's end: its
	// packets to etcd meet silence, as in a partition. It keeps its
	// table, its checks and its clients.
	d3 := l.directors[2]
	cut := time.Now()
	mustSh(t, l.etcdNS, "ip link set ctl3 down")
	l.eventually("d3 says etcd is unreachable", 30*time.Second, func() bool { return !d3.fleetStatus(t).Connected })
	l.serves("d3 cut off", 8080, 6)
	l.stopBackend(3)
	l.allWant("backend 3 failed, d3 cut off", 30*time.Second, 8080, map[int]int{1: 1, 3: 0})
	l.serves("d3 cut off, backend 3 failed", 8080, 6)
	l.backend(3)
	// Away: its connection to etcd given up (its keep-alive unanswered).
	// Until then, what etcd sent its watch waits in the connection, and
	// comes when the link does, with no need to read anything again.
	l.eventually("d3's connection to etcd is given up", 2*time.Minute, func() bool {
		for _, line := range strings.Split(mustSh(t, d3.ns, "netstat -tn"), "\n") {
			if strings.Contains(line, fleetEtcd+":2379") && strings.Contains(line, "ESTABLISHED") {
				return false
			}
		}
		return true
	})
	// Changes meanwhile, and their history compacted.
	l.apply(fleetConfigOf(8080, 1, 2, 3))
	rev := l.apply(fleetConfigOf(9090, 1, 2, 3))
	if _, err := l.cli.Compact(ctx, rev, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	l.allWant("the others follow etcd", time.Minute, 9090, up, l.directors[0], l.directors[1])
	l.allWant("d3, cut off, keeps the configuration it had, backend 3 back", 30*time.Second, 8080, map[int]int{1: 1, 3: 1}, d3)
	l.serves("d3 cut off, its revision compacted", 8080, 6)
	// Its state left etcd with its lease.
	l.eventually("d3's state expires", 30*time.Second, func() bool {
		f, err := fleet.ReadFleet(ctx, l.cli, l.writer.Layout)
		return err == nil && len(f.Directors) == 2
	})
	if !d3.fleetStatus(t).Connected {
		mustSh(t, l.etcdNS, "ip link set ctl3 up")
	} else {
		t.Fatal("d3 says it is connected, cut off")
	}
	back := time.Now()
	l.allWant("d3 back, after a compaction", 2*time.Minute, 9090, up, d3)
	t.Logf("d3 was cut off for %v, and had etcd's state %v after its link came back",
		back.Sub(cut).Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
	l.serves("d3 back", 9090, 6)
	metrics := d3.get(t, "/metrics")
	if reads := grepLines(metrics, "ipvsd_fleet_full_reads_total{"); !strings.Contains(reads, `ipvsd_fleet_full_reads_total{reason="compacted"} 1`) {
		t.Errorf("d3's full reads after the compaction: %s", reads)
	}
	l.eventually("fleet status: three directors, none behind", 30*time.Second, func() bool {
		f, err := fleet.ReadFleet(ctx, l.cli, l.writer.Layout)
		if err != nil || len(f.Directors) != 3 {
			return false
		}
		for _, d := range f.Directors {
			if d.Behind {
				return false
			}
		}
		return true
	})

	// Two writers, each with its connection, read the configuration
	// (the directors' state writes may come between their reads, not a
	// change of the configuration) and apply at once: one wins, the other
	// is told which key changed, and the three kernels have the winner's.
	writers := []*fleet.Writer{l.newWriter(l.etcdClient(), "alice"), l.newWriter(l.etcdClient(), "bob")}
	plans := make([]*fleet.Plan, 2)
	for i, w := range writers {
		desired, err := fleet.Split("fleet.yaml", []byte(fleetConfigOf(7001+i, 1, 2, 3)))
		if err != nil {
			t.Fatal(err)
		}
		if plans[i], err = w.Plan(ctx, desired); err != nil {
			t.Fatal(err)
		}
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, w := range writers {
		wg.Go(func() { _, errs[i] = w.Apply(ctx, plans[i], false) })
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil:
			won = i
		case !errors.Is(err, fleet.ErrConflict):
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if won < 0 || errs[1-won] == nil {
		t.Fatalf("two concurrent applies: %v", errs)
	}
	if told := errs[1-won].Error(); !strings.Contains(told, "config/virtual-servers/web at revision") {
		t.Errorf("the loser was not told which key changed: %s", told)
	}
	t.Logf("the loser was told: %v", errs[1-won])
	l.allWant("the winner's configuration", time.Minute, 7001+won, up)
	l.serves("the winner's configuration", 7001+won, 6)
}
