//go:build integration && linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/fleet"
)

func (l *fleetLab) newDirector(n int) *fleetDirector {
	t := l.t
	d := &fleetDirector{name: fmt.Sprintf("d%d", n), ns: newNS(t), state: filepath.Join(l.dir, fmt.Sprintf("d%d", n))}
	wire(t, l.etcdNS, d.ns, fmt.Sprintf("ctl%d", n), "etcd0", fmt.Sprintf("10.200.%d", n), fleetEtcd+"/32")
	wire(t, l.backendNS, d.ns, fmt.Sprintf("data%d", n), "be0", fmt.Sprintf("10.210.%d", n), "10.201.0.0/24")
	var err error
	if d.table, err = ipvs.New(&ipvs.Config{NetNS: d.ns.Fd()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.table.Close() })
	if err := os.MkdirAll(d.state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.state, "ipvsd.yaml"), []byte(fmt.Sprintf(
		"director: {node: %s, labels: {rack: r%d}, sync_interval: 200ms}\nvirtual_servers: []\n", d.name, n%2)), 0o600); err != nil {
		t.Fatal(err)
	}
	d.api, d.base = apiClient("unix:" + filepath.Join(d.state, "ipvsd.sock"))
	l.start(d)
	return d
}

// start starts ipvsd as director d.
func (l *fleetLab) start(d *fleetDirector) {
	t := l.t
	var err error
	if d.log == nil {
		if d.log, err = os.Create(filepath.Join(d.state, "ipvsd.log")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			l.stop(d)
			if t.Failed() {
				b, _ := os.ReadFile(d.log.Name())
				t.Logf("%s's log (end):\n%s", d.name, b[max(0, len(b)-6000):])
			}
			d.log.Close()
		})
	}
	cmd := exec.Command(os.Args[0], "run", "--config.file="+filepath.Join(d.state, "ipvsd.yaml"), "--state.dir="+d.state,
		"--web.listen-address=unix:"+filepath.Join(d.state, "ipvsd.sock"), "--log.level=debug",
		"--etcd.endpoints=http://"+fleetEtcd+":2379", "--etcd.lease-ttl=3s", "--etcd.start-timeout=5s")
	cmd.Env = append(os.Environ(), "IPVSD_TEST_MAIN=1")
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := d.ns.Do(cmd.Start); err != nil {
		t.Fatal(err)
	}
	d.cmd = cmd
	l.eventually(d.name+"'s API answers", time.Minute, func() bool {
		resp, err := d.api.Get(d.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
}

func (l *fleetLab) stop(d *fleetDirector) {
	if d.cmd == nil {
		return
	}
	terminate(l.t, d.name, d.cmd)
	d.cmd = nil
}

// backend starts (or starts again) the HTTP backend 10.201.0.N:8080.
func (l *fleetLab) backend(n int) {
	l.t.Helper()
	if l.backends[n] != nil {
		return
	}
	addr := fmt.Sprintf("10.201.0.%d:8080", n)
	if _, ok := l.backends[n]; !ok {
		mustSh(l.t, l.backendNS, fmt.Sprintf("ip addr add 10.201.0.%d/32 dev lo", n))
		l.t.Cleanup(func() { l.stopBackend(n) })
	}
	var ln net.Listener
	if err := l.backendNS.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		l.t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})}
	go func() { _ = srv.Serve(ln) }()
	l.backends[n] = srv
}

func (l *fleetLab) stopBackend(n int) {
	if srv := l.backends[n]; srv != nil {
		srv.Close()
		l.backends[n] = nil
	}
}

// apply writes a fleet configuration as `ipvsd fleet apply` does.
func (l *fleetLab) apply(yaml string) int64 {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	desired, err := fleet.Split("fleet.yaml", []byte(yaml))
	if err != nil {
		l.t.Fatal(err)
	}
	p, err := l.writer.Plan(ctx, desired)
	if err != nil {
		l.t.Fatal(err)
	}
	r, err := l.writer.Apply(ctx, p, true)
	if err != nil {
		l.t.Fatal(err)
	}
	return r.Revision
}

// table returns director d's kernel table of the fleet's services, as
// sorted "SERVICE ADDRESS:PORT/WEIGHT ...".
func (d *fleetDirector) tableOf(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vss, err := d.table.VirtualServers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, vs := range vss {
		for _, dst := range vs.Destinations {
			parts = append(parts, fmt.Sprintf("%s:%d>%s/%d", vs.Service.Address, vs.Service.Port, dst, dst.Weight))
		}
		if len(vs.Destinations) == 0 {
			parts = append(parts, fmt.Sprintf("%s:%d>none", vs.Service.Address, vs.Service.Port))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// fleetStatus returns director d's fleet status from its API.
func (d *fleetDirector) fleetStatus(t *testing.T) fleet.Status {
	t.Helper()
	var st fleet.Status
	resp, err := d.api.Get(d.base + "/api/v1/fleet")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func (l *fleetLab) eventually(what string, timeout time.Duration, cond func() bool) {
	l.t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			var tables []string
			for _, d := range l.directors {
				tables = append(tables, d.name+": "+d.tableOf(l.t))
			}
			l.t.Fatalf("never within %v: %s; tables: %s", timeout, what, strings.Join(tables, "; "))
		}
	}
}

// fleetConfigOf is the fleet's configuration: the virtual server web on
// 10.99.1.1:port with the backends of ns, HTTP-checked, and one on
// 10.99.1.2 for rack r1's directors alone.
func fleetConfigOf(port int, backends ...int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "virtual_servers:\n  - name: web\n    address: 10.99.1.1\n    port: %d\n    lvs_sched: rr\n    on_failure: inhibit\n", port)
	b.WriteString("    delay_loop: 300ms\n    connect_timeout: 2s\n    retry: 0\n    warmup: 0s\n    checks: [{type: http, path: /}]\n    real_servers:\n")
	for _, n := range backends {
		fmt.Fprintf(&b, "      - {address: 10.201.0.%d, port: 8080}\n", n)
	}
	b.WriteString("  - name: rack1\n    address: 10.99.1.2\n    port: 80\n    node_selector: {rack: r1}\n    checks: []\n" +
		"    real_servers: [{address: 10.201.0.9, port: 8080}]\n")
	return b.String()
}

// want is the table every director should have: web's real servers
// with weights, and rack1 on the directors of rack r1.
func want(d *fleetDirector, port int, weights map[int]int) string {
	var parts []string
	for n, w := range weights {
		parts = append(parts, fmt.Sprintf("10.99.1.1:%d>10.201.0.%d:8080/%d", port, n, w))
	}
	if d.name != "d2" {
		parts = append(parts, "10.99.1.2:80>10.201.0.9:8080/1")
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func (l *fleetLab) allWant(what string, within time.Duration, port int, weights map[int]int, ds ...*fleetDirector) {
	l.t.Helper()
	if ds == nil {
		ds = l.directors
	}
	l.eventually(what, within, func() bool {
		for _, d := range ds {
			if d.tableOf(l.t) != want(d, port, weights) {
				return false
			}
		}
		return true
	})
}

func (d *fleetDirector) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := d.api.Get(d.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
