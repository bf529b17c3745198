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
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/netns"
	"github.com/ipvs-go/ipvs/ipvsd/director"
)

// The lab of the kernel tests: the director's network namespace, with a
// client namespace behind one veth (10.99.0.2, routing the virtual
// addresses 10.99.1.0/24 through the director) and a backends namespace
// behind another (the director 10.98.0.1, the backends 10.98.0.2 and up,
// routing back through it). The backends are HTTP servers the test can
// stop, start, slow down and cut off with a blackhole route; ipvsd runs
// in the director's namespace as a process of its own (this test binary,
// run again as ipvsd), with its API on a unix socket.

// TestMain runs this binary as ipvsd when the lab starts it so.
func TestMain(m *testing.M) {
	if os.Getenv("IPVSD_TEST_MAIN") == "1" {
		os.Args = append([]string{"ipvsd"}, os.Args[1:]...)
		main()
	}
	os.Exit(m.Run())
}

type lab struct {
	t         *testing.T
	dir       string
	director  *netns.NS
	client    *netns.NS
	backends  *netns.NS
	table     *ipvs.Client
	servers   map[string]*backend
	daemon    *exec.Cmd
	daemonLog *os.File
	api       *http.Client
	base      string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the kernel tests need root and ip_vs: run them in the VM")
	}
	l := &lab{t: t, dir: t.TempDir(), servers: map[string]*backend{}}
	var err error
	if l.director, err = netns.New(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.director.Close() })
	if l.client, err = l.director.Client(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.client.Close() })
	if l.backends, err = netns.New(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.backends.Close() })
	l.wireBackends()
	l.sh(l.director, "echo 1 > /proc/sys/net/ipv4/ip_forward")
	if l.table, err = ipvs.New(&ipvs.Config{NetNS: l.director.Fd()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.table.Close() })
	l.api, l.base = apiClient("unix:" + filepath.Join(l.dir, "ipvsd.sock"))
	t.Cleanup(l.stopDaemon)
	return l
}

// sh runs a shell command in ns, failing the test if it fails.
func (l *lab) sh(ns *netns.NS, cmd string) string {
	l.t.Helper()
	out, err := ns.Sh(cmd)
	if err != nil {
		l.t.Fatalf("%s: %v: %s", cmd, err, out)
	}
	return out
}

// links returns the names of the links of ns.
func links(ns *netns.NS) ([]string, error) {
	var names []string
	err := ns.Do(func() error {
		ifs, err := net.Interfaces()
		for _, ifi := range ifs {
			names = append(names, ifi.Name)
		}
		return err
	})
	return names, err
}

// wireBackends links the director to the backends' namespace.
func (l *lab) wireBackends() {
	l.t.Helper()
	before, err := links(l.director)
	if err != nil {
		l.t.Fatal(err)
	}
	l.sh(l.director, "ip link add be0 type veth peer name be1")
	after, err := links(l.director)
	if err != nil {
		l.t.Fatal(err)
	}
	// busybox's ip names the peer as the kernel likes: it is the new link
	// that is not be0.
	var peer string
	for _, n := range after {
		if n != "be0" && !slices.Contains(before, n) {
			peer = n
		}
	}
	var holder *exec.Cmd
	if err := l.backends.Do(func() error { holder = exec.Command("sleep", "600"); return holder.Start() }); err != nil {
		l.t.Fatal(err)
	}
	defer func() { _ = holder.Process.Kill(); _ = holder.Wait() }()
	l.sh(l.director, fmt.Sprintf("ip link set %s netns %d && ip addr add 10.98.0.1/24 dev be0 && ip link set be0 up", peer, holder.Process.Pid))
	l.sh(l.backends, fmt.Sprintf("ip link set %s name be1 && ip addr add 10.98.0.254/24 dev be1 && ip link set be1 up && ip route add default via 10.98.0.1", peer))
}

// backend is an HTTP server of the backends' namespace: / answers its
// address, /healthz answers ok; it can stop, start again and slow down.
type backend struct {
	addr string
	slow atomic.Int64 // nanoseconds to wait before answering
	mu   sync.Mutex
	srv  *http.Server
}

// backend starts (or starts again) the backend 10.98.0.N:8080.
func (l *lab) backend(n int) *backend {
	l.t.Helper()
	addr := fmt.Sprintf("10.98.0.%d:8080", n)
	b := l.servers[addr]
	if b == nil {
		b = &backend{addr: addr}
		l.servers[addr] = b
		l.sh(l.backends, fmt.Sprintf("ip addr add 10.98.0.%d/32 dev be1", n))
		l.t.Cleanup(b.stop)
	}
	b.start(l.t, l.backends)
	return b
}

func (b *backend) start(t *testing.T, ns *netns.NS) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		return
	}
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp", b.addr); return err }); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(b.slow.Load()))
		if r.URL.Path == "/healthz" {
			io.WriteString(w, "ok\n")
			return
		}
		io.WriteString(w, b.addr+"\n")
	})
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go b.srv.Serve(ln)
}

// stop closes the listener and every connection.
func (b *backend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

// startDaemon starts ipvsd in the director's namespace with the
// configuration yaml, and waits for its API.
func (l *lab) startDaemon(yaml string) {
	l.t.Helper()
	l.writeConfig(yaml)
	var err error
	if l.daemonLog == nil {
		if l.daemonLog, err = os.Create(filepath.Join(l.dir, "ipvsd.log")); err != nil {
			l.t.Fatal(err)
		}
		l.t.Cleanup(func() {
			if l.t.Failed() {
				b, _ := os.ReadFile(l.daemonLog.Name())
				l.t.Logf("ipvsd's log:\n%s", b)
			}
			l.daemonLog.Close()
		})
	}
	cmd := exec.Command(os.Args[0], "run", "--config.file="+filepath.Join(l.dir, "ipvsd.yaml"), "--state.dir="+filepath.Join(l.dir, "state"),
		"--web.listen-address=unix:"+filepath.Join(l.dir, "ipvsd.sock"), "--log.level=debug")
	cmd.Env = append(os.Environ(), "IPVSD_TEST_MAIN=1")
	cmd.Stdout, cmd.Stderr = l.daemonLog, l.daemonLog
	if err := l.director.Do(cmd.Start); err != nil {
		l.t.Fatal(err)
	}
	l.daemon = cmd
	l.eventually("ipvsd's API answers", 30*time.Second, func() bool {
		resp, err := l.api.Get(l.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
}

// stopDaemon stops ipvsd with SIGTERM, as systemd does.
func (l *lab) stopDaemon() {
	if l.daemon == nil {
		return
	}
	terminate(l.t, "ipvsd", l.daemon)
	l.daemon = nil
}

// terminate stops a process with SIGTERM, as systemd does, and fails
// the test unless it exits cleanly within 30 s.
func terminate(t *testing.T, name string, cmd *exec.Cmd) {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s exited: %v", name, err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Errorf("%s did not stop within 30 s of SIGTERM", name)
		<-done
	}
}

func (l *lab) writeConfig(yaml string) {
	l.t.Helper()
	path := filepath.Join(l.dir, "ipvsd.yaml")
	if err := os.WriteFile(path+".tmp", []byte(yaml), 0o600); err != nil {
		l.t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		l.t.Fatal(err)
	}
}

// call makes an API request, with a body if given, and returns the
// status and body of the answer.
func (l *lab) call(method, path string, body ...string) (int, string) {
	l.t.Helper()
	req, err := http.NewRequest(method, l.base+path, strings.NewReader(strings.Join(body, "")))
	if err != nil {
		l.t.Fatal(err)
	}
	resp, err := l.api.Do(req)
	if err != nil {
		l.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (l *lab) status() director.Status {
	l.t.Helper()
	code, body := l.call("GET", "/api/v1/status")
	var s director.Status
	if code != 200 || json.Unmarshal([]byte(body), &s) != nil {
		l.t.Fatalf("status: %d %s", code, body)
	}
	return s
}

// weights returns the kernel's destinations of the service at the
// virtual address, as sorted "ADDRESS:PORT/WEIGHT".
func (l *lab) weights(vip string) string {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vss, err := l.table.VirtualServers(ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	var parts []string
	for _, vs := range vss {
		if netip := vs.Service.Address.String() + ":" + fmt.Sprint(vs.Service.Port); netip == vip {
			for _, d := range vs.Destinations {
				parts = append(parts, fmt.Sprintf("%s/%d", d, d.Weight))
			}
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// eventually waits for cond, failing the test after timeout.
func (l *lab) eventually(what string, timeout time.Duration, cond func() bool) {
	l.t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			l.t.Fatalf("never within %v: %s", timeout, what)
		}
	}
}
