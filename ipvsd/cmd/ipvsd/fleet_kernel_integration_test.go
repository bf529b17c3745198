//go:build integration && linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/netns"
	"github.com/ipvs-go/ipvs/ipvsd/fleet"
	"github.com/ipvs-go/ipvs/ipvsd/fleet/etcdtest"
)

// The fleet's lab: etcd in a namespace of its own (10.202.0.1 on its
// lo), the backends in another (10.201.0.N:8080 on its lo), and three
// directors, each in its namespace with two links: one to etcd's
// namespace (10.200.N.0/24, ctlN there, etcd0 in the director's) and one
// to the backends' (10.210.N.0/24, dataN there, be0 in the director's),
// so that a director can be cut off from etcd alone. Each runs ipvsd (this
// binary again) with --etcd.endpoints; the test writes the fleet's
// configuration from etcd's namespace and reads the three kernels'
// tables. A client namespace behind d3 (10.99.0.2, the virtual addresses
// on d3's lo) sends requests through d3's kernel, to see it serve while
// it is cut off; the backends route the client's replies back through
// d3.

const fleetEtcd = "10.202.0.1"

type fleetLab struct {
	t         *testing.T
	dir       string
	etcdNS    *netns.NS
	backendNS *netns.NS
	etcd      *etcdtest.Server
	cli       *clientv3.Client
	writer    *fleet.Writer
	directors []*fleetDirector
	backends  map[int]*http.Server
	// client is d3's client namespace; web fetches through it.
	client *netns.NS
	web    *http.Client
}

type fleetDirector struct {
	name  string
	ns    *netns.NS
	table *ipvs.Client
	cmd   *exec.Cmd
	log   *os.File
	api   *http.Client
	base  string
	state string
}

func newFleetLab(t *testing.T) *fleetLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the kernel tests need root and ip_vs: run them in the VM")
	}
	l := &fleetLab{t: t, dir: t.TempDir(), backends: map[int]*http.Server{}}
	l.etcdNS = newNS(t)
	l.backendNS = newNS(t)
	mustSh(t, l.etcdNS, "ip addr add "+fleetEtcd+"/32 dev lo")
	var err error
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l.etcd, err = etcdtest.Start(ctx, etcdtest.Options{Dir: filepath.Join(l.dir, "etcd"), Host: fleetEtcd, ClientPort: 2379, PeerPort: 2380,
		Start: func(cmd *exec.Cmd) error { return l.etcdNS.Do(cmd.Start) }, Dial: l.dialEtcdNS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.etcd.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(l.dir, "etcd", "etcd.log"))
			t.Logf("etcd's log (end):\n%s", b[max(0, len(b)-6000):])
		}
	})
	l.cli = l.etcdClient()
	l.writer = l.newWriter(l.cli, "test")
	for n := 1; n <= 3; n++ {
		l.directors = append(l.directors, l.newDirector(n))
	}
	d3 := l.directors[2]
	if l.client, err = d3.ns.Client(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.client.Close() })
	mustSh(t, d3.ns, "echo 1 > /proc/sys/net/ipv4/ip_forward")
	mustSh(t, l.backendNS, "ip route add 10.99.0.0/16 via 10.210.3.2")
	l.web = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := l.client.Do(func() (err error) { c, err = (&net.Dialer{}).DialContext(ctx, network, addr); return err })
			return c, err
		}}}
	return l
}

// etcdClient returns a client of etcd from etcd's namespace, closed
// when the test ends.
func (l *fleetLab) etcdClient() *clientv3.Client {
	l.t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{l.etcd.Endpoint()}, Logger: zap.NewNop(), DialTimeout: 10 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return l.dialEtcdNS(ctx, "tcp", addr)
		})}})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { cli.Close() })
	return cli
}

// newWriter returns a writer of the fleet's configuration, as the
// operator by runs `ipvsd fleet apply`.
func (l *fleetLab) newWriter(cli *clientv3.Client, by string) *fleet.Writer {
	layout, _ := fleet.NewLayout(fleet.DefaultPrefix)
	return &fleet.Writer{Client: cli, Layout: layout, By: by}
}

// serves fetches n times (each over a connection of its own) from
// 10.99.1.1:port through d3's kernel, and fails the test unless every
// request is answered by a backend.
func (l *fleetLab) serves(what string, port, n int) {
	l.t.Helper()
	for i := range n {
		resp, err := l.web.Get(fmt.Sprintf("http://10.99.1.1:%d/", port))
		if err != nil {
			l.t.Fatalf("%s: request %d of %d through d3: %v", what, i+1, n, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != "ok\n" {
			l.t.Fatalf("%s: request %d of %d through d3: %s %q %v", what, i+1, n, resp.Status, b, err)
		}
	}
}

func newNS(t *testing.T) *netns.NS {
	t.Helper()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	return ns
}

func mustSh(t *testing.T, ns *netns.NS, script string) string {
	t.Helper()
	out, err := ns.Sh(script)
	if err != nil {
		t.Fatalf("%s: %v: %s", script, err, out)
	}
	return out
}

// dialEtcdNS dials from etcd's namespace, where the test's client and
// writers are.
func (l *fleetLab) dialEtcdNS(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := l.etcdNS.Do(func() (err error) { c, err = (&net.Dialer{}).DialContext(ctx, network, addr); return err })
	return c, err
}

// wire links a (the hub, .1, its end named link) and b (.2, its end
// named peer) with a veth pair on the /24 subnet; b routes route through
// a.
func wire(t *testing.T, a, b *netns.NS, link, peer, subnet, route string) {
	t.Helper()
	if err := a.Link(link, netip.MustParsePrefix(subnet+".1/24"), b, peer, netip.MustParsePrefix(subnet+".2/24")); err != nil {
		t.Fatal(err)
	}
	mustSh(t, b, fmt.Sprintf("ip route add %s via %s.1", route, subnet))
}

// newDirector makes director n's namespace, wired to etcd and to the
// backends, and starts ipvsd there.
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
