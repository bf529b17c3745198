package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/ipvsd/director"
	"github.com/ipvs-go/ipvs/ipvsd/fleet/etcdtest"
)

// client returns a client of the etcd, closed at the test's end.
func client(t *testing.T, e *etcdtest.Server) *clientv3.Client {
	t.Helper()
	cli, err := Connection{Endpoints: []string{e.Endpoint()}, DialTimeout: 2 * time.Second}.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func testLayout(t *testing.T) Layout {
	l, err := NewLayout("/test")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// vsYAML is a virtual server of the test configurations.
func vsYAML(name string, port int, extra string) string {
	return fmt.Sprintf(`  - name: %s
    address: 192.0.2.10
    port: %d
    lvs_sched: rr
    checks: []
%s    real_servers:
      - {address: 10.0.0.1, port: 80}
      - {address: 10.0.0.2, port: 80}
`, name, port, extra)
}

func file(vss ...string) string {
	return "virtual_servers:\n" + strings.Join(vss, "")
}

// apply writes the configuration as `ipvsd fleet apply` does.
func apply(t *testing.T, w *Writer, yaml string) *ApplyResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := Split("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.Plan(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	r, err := w.Apply(ctx, p, true)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// fakeDirector records the configurations put in force.
type fakeDirector struct {
	mu      sync.Mutex
	applied []*config.Config
	refuse  error
	health  map[string]string // "vs/rs" -> health, default up
}

func (f *fakeDirector) Apply(cfg *config.Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return f.refuse
	}
	f.applied = append(f.applied, cfg)
	return nil
}

func (f *fakeDirector) Status([]ipvs.VirtualServer) director.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	var st director.Status
	if len(f.applied) == 0 {
		return st
	}
	cfg := f.applied[len(f.applied)-1]
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		v := director.VirtualServerStatus{Name: vs.Name}
		for _, b := range vs.Backends() {
			rs := addrPort(b.Destination.Address, b.Destination.Port)
			h := f.health[vs.Name+"/"+rs]
			if h == "" {
				h = "up"
			}
			v.Real = append(v.Real, director.RealServerStatus{Address: rs, Health: h})
		}
		st.VirtualServers = append(st.VirtualServers, v)
	}
	return st
}

// names returns the virtual servers in force, with a digest of each
// ("name:port").
func (f *fakeDirector) names() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.applied) == 0 {
		return "<none>"
	}
	var out []string
	for _, vs := range f.applied[len(f.applied)-1].VirtualServers {
		out = append(out, fmt.Sprintf("%s:%d", vs.Name, vs.Port))
	}
	return strings.Join(out, " ")
}

func (f *fakeDirector) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.applied)
}

// running is a Source running for a fake director.
type running struct {
	s      *Source
	d      *fakeDirector
	cancel context.CancelFunc
	done   chan struct{}
}

// run loads and runs a Source of the node with labels, until the test
// ends or stop.
func run(t *testing.T, cli *clientv3.Client, dir string, node string, labels map[string]string, tune ...func(*Options)) *running {
	t.Helper()
	opts := Options{Client: cli, Layout: testLayout(t), StateDir: dir, LeaseTTL: 3 * time.Second, StatusInterval: 100 * time.Millisecond,
		StartTimeout: 2 * time.Second, Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", node)}
	for _, f := range tune {
		f(&opts)
	}
	s, err := NewSource(opts, config.Director{Node: node, Labels: maps.Clone(labels)}, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cfg, err := s.Load(ctx)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	d := &fakeDirector{health: map[string]string{}}
	if err := d.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	r := &running{s: s, d: d, cancel: cancel, done: make(chan struct{})}
	go func() { _ = s.Run(ctx, d); close(r.done) }()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

// eventually waits for cond, failing the test after timeout.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never within %v: %s", timeout, what)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// directorSync is a sync that applied whole, started at start.
func directorSync(start time.Time) director.SyncReport {
	return director.SyncReport{Start: start}
}
