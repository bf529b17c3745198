//go:build integration && linux

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// labConfig is the lab's configuration: the virtual server web at
// 10.99.1.1:80 over the backends n..., checked by HTTP every 200 ms.
func labConfig(extra string, backends ...int) string {
	var b strings.Builder
	b.WriteString(`director: {sync_interval: 500ms}
virtual_servers:
  - name: web
    address: 10.99.1.1
    port: 80
    lvs_sched: rr
    delay_loop: 200ms
    connect_timeout: 300ms
    retry: 0
    warmup: 0s
    checks: [{type: http, path: /healthz}]
` + extra + `    real_servers:
`)
	for _, n := range backends {
		fmt.Fprintf(&b, "      - {address: 10.98.0.%d, port: 8080}\n", n)
	}
	return b.String()
}

// live returns the destinations of vip at a weight above 0, as sorted
// "ADDRESS:PORT/WEIGHT".
func (l *lab) live(vip string) string {
	var out []string
	for _, p := range strings.Fields(l.weights(vip)) {
		if !strings.HasSuffix(p, "/0") {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

// convergeLive waits for the live destinations of vip to be want.
func (l *lab) convergeLive(vip, want string, bound time.Duration) time.Duration {
	l.t.Helper()
	start := time.Now()
	for l.live(vip) != want {
		if time.Since(start) > bound {
			l.t.Fatalf("%s's live destinations are %q after %v, want %q (all: %q)", vip, l.live(vip), bound, want, l.weights(vip))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// failBound bounds the time from a backend's failure to its weight 0 in
// the kernel: a check interval, a timeout, a sync, and room for the
// emulated machine of the VM.
const failBound = 200*time.Millisecond + 300*time.Millisecond + 500*time.Millisecond + 3*time.Second

// TestKernelDirectorFailures: backends in their own namespace stop,
// disappear behind a blackhole route, answer too slowly and flap; each
// time the kernel's table follows within a bound, traffic from the
// client moves to the live ones, and flapping writes the table at most
// once per sync interval.
func TestKernelDirectorFailures(t *testing.T) {
	l := newLab(t)
	b2, b3, b4 := l.backend(2), l.backend(3), l.backend(4)
	l.startDaemon(labConfig("", 2, 3, 4))
	const vip = "10.99.1.1:80"
	all := "10.98.0.2:8080/1 10.98.0.3:8080/1 10.98.0.4:8080/1"
	l.convergeLive(vip, all, 30*time.Second)
	loop := l.startLoop(vip)
	defer loop.end()

	step := func(what, want string, act func()) {
		t.Helper()
		act()
		took := l.convergeLive(vip, want, failBound)
		t.Logf("%s: the table followed in %v", what, took.Round(time.Millisecond))
	}
	step("backend stopped", "10.98.0.2:8080/1 10.98.0.4:8080/1", b3.stop)
	loop.served()
	time.Sleep(time.Second)
	if got := loop.served(); got[b3.addr] > 0 || got[b2.addr] == 0 || got[b4.addr] == 0 {
		t.Errorf("traffic after the stop: %v", got)
	}
	step("backend started", all, func() { b3.start(t, l.backends) })

	step("blackhole route", "10.98.0.2:8080/1 10.98.0.3:8080/1", func() { l.sh(l.director, "ip route add blackhole 10.98.0.4/32") })
	step("blackhole removed", all, func() { l.sh(l.director, "ip route del blackhole 10.98.0.4/32") })

	step("backend slowed past the timeout", "10.98.0.3:8080/1 10.98.0.4:8080/1", func() { b2.slow.Store(int64(time.Second)) })
	step("backend fast again", all, func() { b2.slow.Store(0) })

	before := l.status().Sync
	start := time.Now()
	for i := range 20 {
		if i%2 == 0 {
			b4.stop()
		} else {
			b4.start(t, l.backends)
		}
		time.Sleep(150 * time.Millisecond)
	}
	l.convergeLive(vip, all, failBound)
	after := l.status().Sync
	elapsed := time.Since(start)
	if writes, most := after.Writes-before.Writes, uint64(elapsed/(500*time.Millisecond))+1; writes > most {
		t.Errorf("flapping for %v made %d writes, more than one per 500ms sync interval (%d)", elapsed, writes, most)
	} else {
		t.Logf("flapping for %v made %d writes", elapsed.Round(time.Millisecond), writes)
	}
	ok, failed, errs := loop.end()
	t.Logf("client: %d requests answered, %d failed while backends failed (%v)", ok, failed, errs)
	if ok == 0 {
		t.Error("no request was answered")
	}
}

// TestKernelDirectorNoLoss: a client sends requests through the virtual
// address all along, and none fails across a reload that adds and
// removes real servers, across the API's changes, and across a restart
// of the daemon, which leaves the table as it is.
func TestKernelDirectorNoLoss(t *testing.T) {
	l := newLab(t)
	for _, n := range []int{2, 3, 4, 5} {
		l.backend(n)
	}
	const vip = "10.99.1.1:80"
	l.startDaemon(labConfig("", 2, 3, 4))
	l.convergeLive(vip, "10.98.0.2:8080/1 10.98.0.3:8080/1 10.98.0.4:8080/1", 30*time.Second)
	loop := l.startLoop(vip)
	defer loop.end()
	settle := func() { time.Sleep(time.Second) }
	settle()

	// A reload that adds 5 and removes 2: 2 drains.
	l.writeConfig(labConfig("", 3, 4, 5))
	l.convergeLive(vip, "10.98.0.3:8080/1 10.98.0.4:8080/1 10.98.0.5:8080/1", failBound)
	settle()

	// The API: drain and undrain a real server, change the virtual
	// server's weights and real servers, and revert it. (Not its
	// scheduler: to change a service's scheduler the kernel unbinds the
	// old one and waits for an RCU grace period before it binds the new,
	// and schedules no new connection meanwhile; see the last step.)
	if code, body := l.call("POST", "/api/v1/virtual-servers/web/real-servers/10.98.0.3:8080/drain"); code != 200 {
		t.Fatalf("drain: %d %s", code, body)
	}
	l.convergeLive(vip, "10.98.0.4:8080/1 10.98.0.5:8080/1", failBound)
	settle()
	if code, body := l.call("POST", "/api/v1/virtual-servers/web/real-servers/10.98.0.3:8080/undrain"); code != 200 {
		t.Fatalf("undrain: %d %s", code, body)
	}
	l.convergeLive(vip, "10.98.0.3:8080/1 10.98.0.4:8080/1 10.98.0.5:8080/1", failBound)
	spec := `address: 10.99.1.1
port: 80
lvs_sched: rr
delay_loop: 200ms
connect_timeout: 300ms
retry: 0
warmup: 0s
checks: [{type: http, path: /healthz}]
real_servers:
  - {address: 10.98.0.2, port: 8080}
  - {address: 10.98.0.3, port: 8080, weight: 3}
  - {address: 10.98.0.4, port: 8080}
`
	if code, body := l.call("PUT", "/api/v1/virtual-servers/web", spec); code != 200 {
		t.Fatalf("put: %d %s", code, body)
	}
	l.convergeLive(vip, "10.98.0.2:8080/1 10.98.0.3:8080/3 10.98.0.4:8080/1", failBound)
	settle()
	if code, body := l.call("POST", "/api/v1/virtual-servers/web/revert"); code != 204 {
		t.Fatalf("revert: %d %s", code, body)
	}
	l.convergeLive(vip, "10.98.0.3:8080/1 10.98.0.4:8080/1 10.98.0.5:8080/1", failBound)
	settle()

	// A restart: the table stays as it is while the new daemon's checks
	// warm up.
	table := l.weights(vip)
	l.stopDaemon()
	if got := l.weights(vip); got != table {
		t.Errorf("stopping changed the table: %q, was %q", got, table)
	}
	settle()
	l.startDaemon(labConfig("", 3, 4, 5))
	for range 10 {
		if got := l.weights(vip); got != table {
			t.Fatalf("the restart changed the table: %q, was %q", got, table)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s := l.status().Sync; s.Writes != 0 {
		t.Errorf("the restarted daemon wrote %d times", s.Writes)
	}
	settle()

	ok, failed, errs := loop.end()
	t.Logf("client: %d requests answered, %d failed", ok, failed)
	if failed != 0 || ok < 50 {
		t.Errorf("%d requests failed of %d: %v", failed, ok+failed, errs)
	}

	// What a change of scheduler costs, in the kernel: measured, for the
	// README.
	loop = l.startLoop(vip)
	settle()
	l.writeConfig(strings.Replace(labConfig("", 3, 4, 5), "lvs_sched: rr", "lvs_sched: wrr", 1))
	l.eventually("the scheduler changes", failBound, func() bool { return strings.Contains(l.sh(l.director, "ipvsadm -Ln"), "wrr") })
	settle()
	ok, failed, _ = loop.end()
	t.Logf("a change of scheduler: %d requests answered, %d refused", ok, failed)
}

// TestKernelDirectorDrift: what ipvsadm changes behind the daemon's back
// in its virtual server (-d, -e, -D) is repaired within a sync interval,
// and logged; a foreign service is never touched, as ipvsadm -Sn shows.
func TestKernelDirectorDrift(t *testing.T) {
	l := newLab(t)
	l.backend(2)
	l.backend(3)
	l.sh(l.director, "ipvsadm -A -t 10.99.1.2:22 -s rr && ipvsadm -a -t 10.99.1.2:22 -r 10.98.0.9:22 -m -w 3 && "+
		"ipvsadm -A -f 99 -s wlc && ipvsadm -a -f 99 -r 10.98.0.9:0 -g -w 2")
	foreign := func() []string {
		var out []string
		for _, line := range strings.Split(l.sh(l.director, "ipvsadm -Sn"), "\n") {
			if strings.Contains(line, "10.99.1.2:22") || strings.Contains(line, "-f 99") {
				out = append(out, line)
			}
		}
		slices.Sort(out)
		return out
	}
	before := foreign()
	if len(before) != 4 {
		t.Fatalf("foreign services: %q", before)
	}
	const vip = "10.99.1.1:80"
	l.startDaemon(labConfig("", 2, 3))
	want := "10.98.0.2:8080/1 10.98.0.3:8080/1"
	l.convergeLive(vip, want, 30*time.Second)
	// A sync interval, and room for the sync itself on the emulated
	// machine.
	const bound = 500*time.Millisecond + 2*time.Second
	for _, edit := range []string{
		"ipvsadm -d -t 10.99.1.1:80 -r 10.98.0.3:8080",
		"ipvsadm -e -t 10.99.1.1:80 -r 10.98.0.2:8080 -m -w 9",
		"ipvsadm -D -t 10.99.1.1:80",
	} {
		l.sh(l.director, edit)
		took := l.convergeLive(vip, want, bound)
		t.Logf("%s: repaired in %v", edit, took.Round(time.Millisecond))
	}
	l.stopDaemon()
	if after := foreign(); !slices.Equal(after, before) {
		t.Errorf("foreign services changed:\n%q\nwas\n%q", after, before)
	}
	log, _ := os.ReadFile(filepath.Join(l.dir, "ipvsd.log"))
	if n := strings.Count(string(log), "repaired a change made behind the director's back"); n < 3 {
		t.Errorf("%d repairs logged", n)
	}
}
