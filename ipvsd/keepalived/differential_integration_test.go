//go:build integration && linux

package keepalived_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// The differential suite: keepalived and ipvsd, each a director of its
// own in front of the same backends, with the same configuration
// (ipvsd's imported from keepalived's), take the same steps and faults,
// and their tables (ipvsadm -Sn) are compared after each. Where they
// differ on purpose, the test says how, and the README lists why.

// pair is keepalived and ipvsd in front of the same backends.
type pair struct {
	t      *testing.T
	lab    *lab
	k, i   *director
	kp, ip *process
}

func newPair(t *testing.T, backends int, conf string) *pair {
	t.Helper()
	l := newLab(t, backends)
	p := &pair{t: t, lab: l, k: l.director(), i: l.director()}
	p.kp = p.k.keepalived(conf)
	p.ip = p.i.ipvsd(conf)
	return p
}

// converge waits until both tables are want, and logs how long each
// took since start.
func (p *pair) converge(step, want string, start time.Time, within time.Duration) {
	p.t.Helper()
	var wg sync.WaitGroup
	took := make([]time.Duration, 2)
	for n, d := range []*director{p.k, p.i} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			took[n] = waitFor(d, want, start, within)
		}()
	}
	wg.Wait()
	if p.t.Failed() {
		p.t.FailNow()
	}
	p.t.Logf("%s: both tables as wanted; keepalived after %s, ipvsd after %s", step, took[0].Round(time.Millisecond), took[1].Round(time.Millisecond))
}

// waitFor waits until d's table is want, and returns the time since
// start; it fails the test (without stopping the goroutine) after
// within.
func waitFor(d *director, want string, start time.Time, within time.Duration) time.Duration {
	for {
		out, err := d.ns.Sh("ipvsadm -Sn")
		if err != nil {
			d.t.Errorf("director %d: ipvsadm -Sn: %v", d.k, err)
			return 0
		}
		if got := normalize(out); got == want {
			return time.Since(start)
		} else if time.Since(start) > within {
			d.t.Errorf("director %d: after %s the table is\n%s\nwant\n%s", d.k, within, got, want)
			return 0
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// webConf is a virtual server of vip:80 in front of real servers
// 10.96.0.i:80 of the weights given, each with an HTTP check every
// second that fails at its first failed attempt; extra goes in the
// virtual server's block.
func webConf(extra string, weights ...int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "virtual_server %s 80 {\n    delay_loop 1\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n%s\n", vip, extra)
	for i, w := range weights {
		fmt.Fprintf(&b, "    real_server 10.96.0.%d 80 {\n        weight %d\n        HTTP_GET {\n            url {\n                path /health\n            }\n"+
			"            connect_timeout 1\n            retry 0\n        }\n    }\n", i+1, w)
	}
	b.WriteString("}\n")
	return b.String()
}

// table is what ipvsadm -Sn prints of vip:80 with real servers of the
// weights given, by index (10.96.0.i+1), leaving out those of weight -1.
func table(sched string, weights ...int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-A -t %s:80 -s %s\n", vip, sched)
	for i, w := range weights {
		if w >= 0 {
			fmt.Fprintf(&b, "-a -t %s:80 -r 10.96.0.%d:80 -m -w %d\n", vip, i+1, w)
		}
	}
	return normalize(b.String())
}

// TestKernelDifferentialStartAndFailure: both start in front of three
// backends, one of them down, and make the same table; a backend that
// fails leaves both tables, and comes back to both when it recovers.
func TestKernelDifferentialStartAndFailure(t *testing.T) {
	l := newLab(t, 3)
	l.backends[2].down()
	p := &pair{t: t, lab: l, k: l.director(), i: l.director()}
	conf := webConf("", 1, 2, 3)
	start := time.Now()
	p.kp, p.ip = p.k.keepalived(conf), p.i.ipvsd(conf)
	p.converge("start-up, backend 3 down", table("wrr", 1, 2, -1), start, 30*time.Second)

	start = time.Now()
	l.backends[0].down()
	p.converge("backend 1 fails", table("wrr", -1, 2, -1), start, 15*time.Second)
	start = time.Now()
	l.backends[0].up()
	l.backends[2].up()
	p.converge("backends 1 and 3 recover", table("wrr", 1, 2, 3), start, 15*time.Second)
}

// TestKernelDifferentialQuorum: with quorum 3 of three real servers of
// weight 1, one failure loses quorum and the sorry server stands in for
// the real servers in both; its recovery brings them back.
func TestKernelDifferentialQuorum(t *testing.T) {
	conf := webConf("    quorum 3\n    sorry_server 10.96.0.4 80", 1, 1, 1)
	p := newPair(t, 4, conf)
	all := table("wrr", 1, 1, 1)
	p.converge("start-up", all, time.Now(), 30*time.Second)

	start := time.Now()
	p.lab.backends[1].down()
	sorry := table("wrr", -1, -1, -1, 1)
	p.converge("backend 2 fails: quorum lost, the sorry server stands in", sorry, start, 15*time.Second)
	start = time.Now()
	p.lab.backends[1].up()
	p.converge("backend 2 recovers: quorum regained", all, start, 15*time.Second)
}

// TestKernelDifferentialRepair: a real server deleted, and another's
// weight changed, behind the directors' backs. keepalived leaves the
// table as it was made; ipvsd repairs it within its sync interval.
func TestKernelDifferentialRepair(t *testing.T) {
	p := newPair(t, 2, webConf("", 1, 2))
	want := table("wrr", 1, 2)
	p.converge("start-up", want, time.Now(), 30*time.Second)

	start := time.Now()
	edit := fmt.Sprintf("ipvsadm -d -t %[1]s:80 -r 10.96.0.1:80 && ipvsadm -e -t %[1]s:80 -r 10.96.0.2:80 -m -w 7", vip)
	for _, d := range []*director{p.k, p.i} {
		if err := sh(d.ns, edit); err != nil {
			t.Fatal(err)
		}
	}
	took := p.i.waitTable(want, 3*syncInterval)
	t.Logf("ipvsd repaired the table %s after the edit (sync interval %s)", took.Round(time.Millisecond), syncInterval)
	// keepalived has no reason to look again while the checks keep
	// passing: the edit stands.
	time.Sleep(time.Until(start.Add(5 * time.Second)))
	if got, edited := p.k.table(), table("wrr", -1, 7); got != edited {
		t.Errorf("keepalived's table 5s after the edit:\n%s\nwant it as edited:\n%s", got, edited)
	}
	t.Logf("deliberate difference: 5s after the edit keepalived's table is still as edited:\n%s", p.k.table())
}

// TestKernelDifferentialReload: a reload that removes one of three real
// servers while clients hold connections to each. keepalived removes it
// at once, and the connections to it fail; ipvsd drains it (weight 0
// while they live), and no request fails. Once the connections end,
// both tables are the same.
func TestKernelDifferentialReload(t *testing.T) {
	conf := strings.Replace(webConf("", 1, 1, 1), "lb_algo wrr", "lb_algo rr", 1)
	p := newPair(t, 3, conf)
	p.converge("start-up", table("rr", 1, 1, 1), time.Now(), 30*time.Second)

	type result struct {
		failed, total int
		conns         []*keptConn
	}
	results := map[string]*result{}
	for _, d := range []*director{p.k, p.i} {
		results[d.daemon] = &result{conns: d.openConns(6)}
	}
	fewer := strings.Replace(conf, "    real_server 10.96.0.3 80 {\n        weight 1\n        HTTP_GET {\n            url {\n"+
		"                path /health\n            }\n            connect_timeout 1\n            retry 0\n        }\n    }\n", "", 1)
	if fewer == conf {
		t.Fatal("the third real server is not in the configuration as the test expects")
	}
	p.k.reload(p.kp, fewer)
	p.i.reload(p.ip, fewer)
	// Each connection sends a request every 200ms for 6s.
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, r := range results {
		for _, c := range r.conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 30 {
					err := c.get()
					mu.Lock()
					r.total++
					if err != nil {
						r.failed++
					}
					mu.Unlock()
					time.Sleep(200 * time.Millisecond)
				}
			}()
		}
	}
	wg.Wait()
	k, i := results[p.k.daemon], results[p.i.daemon]
	t.Logf("requests over held connections across the reload: keepalived %d of %d failed, ipvsd %d of %d failed", k.failed, k.total, i.failed, i.total)
	if i.failed != 0 {
		t.Errorf("ipvsd: %d requests failed across a reload that removes a real server", i.failed)
	}
	if k.failed == 0 {
		t.Errorf("keepalived: no request failed: the README says it cuts the connections of a real server a reload removes")
	}
	if f := p.k.get(20) + p.i.get(20); f != 0 {
		t.Errorf("%d new requests failed after the reload", f)
	}
	drained := table("rr", 1, 1, 0)
	if got := p.i.table(); got != drained {
		t.Errorf("ipvsd's table while connections to the removed real server live:\n%s\nwant it at weight 0:\n%s", got, drained)
	}
	t.Logf("deliberate difference: while its connections live, ipvsd keeps the removed real server at weight 0:\n%s", p.i.table())
	for _, r := range results {
		for _, c := range r.conns {
			c.reset()
		}
	}
	start := time.Now()
	p.converge("connections ended", table("rr", 1, 1, -1), start, 30*time.Second)
}

// TestKernelDifferentialSharedChecks: four virtual servers with the
// same real servers and the same check. keepalived checks each real
// server once per virtual server, ipvsd once in all.
func TestKernelDifferentialSharedChecks(t *testing.T) {
	var conf, want strings.Builder
	for port := 80; port < 84; port++ {
		fmt.Fprintf(&conf, "%s\n", strings.Replace(webConf("", 1, 1), vip+" 80", fmt.Sprintf("%s %d", vip, port), 1))
		fmt.Fprintf(&want, "-A -t %s:%d -s wrr\n-a -t %[1]s:%[2]d -r 10.96.0.1:80 -m -w 1\n-a -t %[1]s:%[2]d -r 10.96.0.2:80 -m -w 1\n", vip, port)
	}
	p := newPair(t, 2, conf.String())
	p.converge("start-up", normalize(want.String()), time.Now(), 30*time.Second)

	const window = 10 * time.Second
	before := map[string][]int{}
	count := func() map[string][]int {
		out := map[string][]int{}
		for _, d := range []*director{p.k, p.i} {
			for _, b := range p.lab.backends {
				out[d.daemon] = append(out[d.daemon], b.requestsFrom(d.checkSource(b)))
			}
		}
		return out
	}
	before = count()
	time.Sleep(window)
	after := count()
	probes := func(d *director) (n []int) {
		for j := range after[d.daemon] {
			n = append(n, after[d.daemon][j]-before[d.daemon][j])
		}
		return n
	}
	kp, ip := probes(p.k), probes(p.i)
	t.Logf("checks each backend received in %s, with 4 virtual servers checking it every second: keepalived %v, ipvsd %v", window, kp, ip)
	for j := range ip {
		// One check a second, give or take the window's edges.
		if ip[j] < 8 || ip[j] > 12 {
			t.Errorf("ipvsd: backend %d received %d checks in %s, want about 10: one per second, shared by the 4 virtual servers", j+1, ip[j], window)
		}
		// Four a second, as a rule: more than twice ipvsd's, however slow
		// the emulator makes keepalived's single checker process.
		if kp[j] <= 2*ip[j] {
			t.Errorf("keepalived: backend %d received %d checks in %s, against ipvsd's %d: the README says keepalived checks once per virtual server", j+1, kp[j], window, ip[j])
		}
	}
}

// TestKernelDifferentialImportTable: a configuration that uses every
// directive that shapes the table (groups with ranges and marks,
// fwmarks with tunnels, DR ports, persistence and its granularity and
// engine, schedulers and their flags, one-packet scheduling, thresholds,
// IPv6, keepalived's own fix-ups) makes the same table in keepalived and
// in ipvsd with the import. Its real servers have no checks: both keep
// them up.
func TestKernelDifferentialImportTable(t *testing.T) {
	conf := `virtual_server_group G {
    10.99.2.1-3 8080
    fwmark 8
}
virtual_server group G {
    protocol TCP
    lb_algo lc
    real_server 10.96.0.1 80 {
        weight 4
    }
}
virtual_server 10.99.1.1 80 {
    protocol TCP
    lb_algo wrr
    persistence_timeout 600
    persistence_granularity 255.255.255.0
    real_server 10.96.0.1 80 {
        weight 2
        uthreshold 100
        lthreshold 50
    }
    real_server 10.96.0.2 8080 {}
}
virtual_server 10.99.1.5 53 {
    protocol UDP
    lvs_sched rr
    ops
    real_server 10.96.0.1 53 {}
}
virtual_server 10.99.1.2 5060 {
    protocol UDP
    lvs_sched rr
    lb_kind DR
    persistence_timeout 30
    persistence_engine sip
    real_server 10.96.0.1 5061 {}
    real_server 10.96.0.2 {
        weight 0
    }
}
virtual_server fwmark 7 {
    lvs_sched sh
    sh-port
    sh-fallback
    lvs_method TUN type gue port 6080
    real_server 10.96.0.1 80 {}
}
virtual_server 10.99.1.3 443 {
    lvs_sched mh
    mh-port
    real_server 10.96.0.2 443 {}
}
virtual_server 10.99.1.4 0 {
    protocol TCP
    real_server 10.96.0.1 0 {
        lvs_method DR
    }
}
virtual_server 2001:db8::10 443 {
    protocol TCP
    lvs_sched nq
    lb_kind DR
    real_server 2001:db8:1::1 443 {
        weight 3
    }
}
`
	p := newPair(t, 2, conf)
	// Both make it at start-up; the wait is for the later of the two.
	var got [2]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		got[0], got[1] = p.k.table(), p.i.table()
		if got[0] == got[1] && strings.Count(got[0], "-A ") == 11 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keepalived's table:\n%s\nipvsd's, with the import:\n%s", got[0], got[1])
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("the same table in both:\n%s", got[0])
}
