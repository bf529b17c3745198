package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/daemon"
	"github.com/ipvs-go/ipvs/ipvsd/director"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// daemonRig is the daemon on an in-memory IPVS, with real backends on
// loopback that its checks probe, and its API on a unix socket.
type daemonRig struct {
	t       *testing.T
	dir     string
	fake    *ipvstest.Fake
	http    *http.Client
	stop    context.CancelFunc
	done    chan error
	servers map[string]net.Listener
}

func startDaemon(t *testing.T, yaml string, tune ...func(*daemon.Config)) *daemonRig {
	t.Helper()
	dir := t.TempDir()
	r := &daemonRig{t: t, dir: dir, fake: ipvstest.NewFake(), done: make(chan error, 1), servers: map[string]net.Listener{}}
	r.writeConfig(yaml)
	sock := filepath.Join(dir, "ipvsd.sock")
	r.http = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	cfg := testConfig(t, dir, sock)
	for _, f := range tune {
		f(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	client := r.fake.Client(t)
	go func() { r.done <- daemon.Run(ctx, cfg, client) }()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("daemon: %v", err)
		}
		for _, l := range r.servers {
			l.Close()
		}
	})
	r.eventually("the API answers", func() bool { code, _ := r.get("/healthz"); return code == 200 })
	return r
}

// testConfig is the daemon's configuration for a test.
func testConfig(t *testing.T, dir, sock string) daemon.Config {
	return daemon.Config{ConfigFile: filepath.Join(dir, "ipvsd.yaml"), StateDir: filepath.Join(dir, "state"),
		Listen: []string{"unix:" + sock}, Watch: true, TableMetrics: true, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (r *daemonRig) writeConfig(yaml string) {
	r.t.Helper()
	tmp := filepath.Join(r.dir, ".ipvsd.yaml.tmp")
	if err := os.WriteFile(tmp, []byte(yaml), 0o600); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(r.dir, "ipvsd.yaml")); err != nil {
		r.t.Fatal(err)
	}
}

// backend listens on a loopback port and accepts connections, as a real
// server whose tcp check passes; it returns the address.
func (r *daemonRig) backend() string {
	r.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	r.servers[l.Addr().String()] = l
	return l.Addr().String()
}

func (r *daemonRig) do(method, path, body string) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, "http://ipvsd"+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *daemonRig) get(path string) (int, string) { return r.do("GET", path, "") }

func (r *daemonRig) status() director.Status {
	r.t.Helper()
	code, body := r.get("/api/v1/status")
	var s director.Status
	if code != 200 || json.Unmarshal([]byte(body), &s) != nil {
		r.t.Fatalf("status: %d %s", code, body)
	}
	return s
}

// eventually waits for cond, failing the test after a while.
func (r *daemonRig) eventually(what string, cond func() bool) {
	r.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	r.t.Fatalf("never: %s", what)
}

// weights returns the fake table's destinations of its first service,
// as "ADDRESS:PORT/WEIGHT ...".
func (r *daemonRig) weights() string {
	var parts []string
	for _, vs := range r.fake.VirtualServers() {
		for _, d := range vs.Destinations {
			parts = append(parts, fmt.Sprintf("%s/%d", d, d.Weight))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// sorted joins destinations as weights writes them.
func sorted(parts ...string) string {
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func configOf(backends ...string) string {
	var b strings.Builder
	b.WriteString("director: {sync_interval: 100ms}\nvirtual_servers:\n  - name: web\n    address: 192.0.2.10\n    port: 80\n")
	b.WriteString("    delay_loop: 50ms\n    connect_timeout: 1s\n    warmup: 0s\n    retry: 0\n    checks: [{type: tcp}]\n    real_servers:\n")
	for _, a := range backends {
		ap := strings.Split(a, ":")
		fmt.Fprintf(&b, "      - {address: %s, port: %s}\n", ap[0], ap[1])
	}
	return b.String()
}

// TestDaemon: the daemon's whole life on an in-memory IPVS, with real
// checks of loopback backends: start, a backend failing and coming back,
// the API's changes, a reload by file and by SIGHUP, a refused reload,
// the metrics.
func TestDaemon(t *testing.T) {
	r := &daemonRig{t: t, servers: map[string]net.Listener{}}
	t.Cleanup(func() {
		for _, l := range r.servers {
			l.Close()
		}
	})
	a, b := r.backend(), r.backend()
	c := "127.0.0.1:9" // nothing listens: its check fails
	d := startDaemon(t, configOf(a, b, c))
	d.eventually("the table is made, without the failing backend", func() bool { return d.weights() == sorted(a+"/1", b+"/1") })

	// A backend stops: it is removed (no connections to drain).
	r.servers[b].Close()
	d.eventually("the stopped backend leaves", func() bool { return d.weights() == a+"/1" })
	s := d.status()
	rs := s.VirtualServers[0].Real[1]
	if rs.Health != "down" || rs.Desired != nil || !strings.Contains(rs.Reason, "down: tcp check") || rs.Checks[0].LastError == "" {
		t.Errorf("status of the stopped backend: %+v", rs)
	}

	// Drain through the API: weight 0, kept.
	if code, body := d.do("POST", "/api/v1/virtual-servers/web/real-servers/"+a+"/drain", ""); code != 200 {
		t.Fatalf("drain: %d %s", code, body)
	}
	d.eventually("the drained backend is at weight 0", func() bool { return d.weights() == a+"/0" })
	if code, _ := d.do("POST", "/api/v1/virtual-servers/web/real-servers/"+a+"/undrain", ""); code != 200 {
		t.Fatal("undrain")
	}
	d.eventually("undrained", func() bool { return d.weights() == a+"/1" })
	if code, body := d.do("POST", "/api/v1/virtual-servers/web/real-servers/10.9.9.9:1/drain", ""); code != 404 {
		t.Errorf("drain of an unknown real server: %d %s", code, body)
	}

	// A reload by the file: a new backend joins.
	e := r.backend()
	d.writeConfig(configOf(a, e))
	d.eventually("the reload by file adds the new backend", func() bool { return d.weights() == sorted(a+"/1", e+"/1") })
	// The same content written again is no change: no reload (the start
	// and the reload above are the two counted).
	d.writeConfig(configOf(a, e))
	time.Sleep(time.Second)
	if _, m := d.get("/metrics"); !strings.Contains(m, `ipvsd_config_reloads_total{result="ok"} 2`+"\n") {
		i := strings.Index(m, "ipvsd_config_reloads_total{")
		t.Errorf("the same content written again reloaded: %.80s", m[max(i, 0):])
	}

	// A file that does not validate is refused; the table stays.
	d.writeConfig(strings.Replace(configOf(a), "port: 80", "port: eighty", 1))
	d.eventually("the refused reload is counted", func() bool {
		_, m := d.get("/metrics")
		return strings.Contains(m, "ipvsd_config_last_reload_successful 0")
	})
	if got := d.weights(); got != sorted(a+"/1", e+"/1") {
		t.Errorf("after a refused reload: %s", got)
	}
	if code, body := d.do("POST", "/api/v1/reload", ""); code != 400 || !strings.Contains(body, `ipvsd.yaml:5:5: virtual_servers[0].port: \"eighty\"`) {
		t.Errorf("reload through the API: %d %s", code, body)
	}

	// SIGHUP reloads.
	d.writeConfig(configOf(e))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.eventually("SIGHUP reloads", func() bool { return d.weights() == e+"/1" })

	// A virtual server put through the API, kept in the state file.
	if code, body := d.do("PUT", "/api/v1/virtual-servers/api", "address: 192.0.2.11\nport: 443\nreal_servers: [{address: 127.0.0.1, port: 1}]\n"); code != 200 {
		t.Fatalf("put: %d %s", code, body)
	}
	d.eventually("the API's virtual server is made", func() bool { return len(d.fake.VirtualServers()) == 2 })
	if b, err := os.ReadFile(filepath.Join(d.dir, "state", director.StateFile)); err != nil || !strings.Contains(string(b), "192.0.2.11") {
		t.Errorf("state file: %v %s", err, b)
	}
	if code, body := d.do("PUT", "/api/v1/virtual-servers/bad", "address: 192.0.2.12\nport: 0\n"); code != 400 || !strings.Contains(body, "port") {
		t.Errorf("bad put: %d %s", code, body)
	}

	// The plan, the metrics, liveness.
	if code, body := d.get("/api/v1/plan"); code != 200 || !strings.Contains(body, `"changes": []`) {
		t.Errorf("plan: %d %s", code, body)
	}
	_, m := d.get("/metrics")
	for _, want := range []string{`ipvsd_check_state{check="tcp ` + e, `ipvsd_syncs_total{result="ok"}`, `ipvs_destination_weight{`,
		`ipvsd_real_server_desired_weight{real_server="` + e + `",virtual_server="web"} 1`, "ipvsd_check_duration_seconds_bucket"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code, body := d.get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz: %d %q", code, body)
	}
}

// TestPlanAsksTheDaemon: "ipvsd plan FILE" asks a running daemon, whose
// plan knows the health of the real servers.
func TestPlanAsksTheDaemon(t *testing.T) {
	r := &daemonRig{t: t, servers: map[string]net.Listener{}}
	t.Cleanup(func() {
		for _, l := range r.servers {
			l.Close()
		}
	})
	a := r.backend()
	d := startDaemon(t, configOf(a))
	d.eventually("the table is made", func() bool { return d.weights() == a+"/1" })
	next := filepath.Join(t.TempDir(), "next.yaml")
	if err := os.WriteFile(next, []byte(configOf(a, "127.0.0.1:9")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := ipvsd(t, "plan", "--api", "unix:"+filepath.Join(d.dir, "ipvsd.sock"), next)
	want := "create destination 127.0.0.1:9 of tcp 192.0.2.10:80: not in the table (masq, weight 1) [not checked yet: up until its checks fail]\n"
	if code != 0 || out != want || !strings.Contains(errs, "planned by the ipvsd at unix:") {
		t.Errorf("plan: %d\n%s\n%s", code, out, errs)
	}
	if code, _, errs := ipvsd(t, "plan", "--api", "unix:"+filepath.Join(t.TempDir(), "none.sock"), next); code != 1 || !strings.Contains(errs, "no ipvsd answers") {
		t.Errorf("plan without a daemon nor IPVS: %d %s", code, errs)
	}
}
