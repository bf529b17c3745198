//go:build integration && linux

package keepalived_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/keepalived"
)

// process is a daemon the test started, in a director's namespace.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

// syncBuffer is a buffer two goroutines may write and read.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs argv in the director's namespace. It is stopped when the
// test ends, and its output is logged if the test failed.
func (d *director) start(name string, argv ...string) *process {
	d.t.Helper()
	d.daemon = name
	p := &process{name: name, out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Dir = d.dir
	// Its own process group, so that stopping it stops its children
	// (keepalived's checker process, scripts).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.ns.Do(p.cmd.Start); err != nil {
		d.t.Fatalf("%s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	d.t.Cleanup(func() {
		p.stop(d.t)
		if d.t.Failed() {
			d.t.Logf("%s (director %d) said:\n%s", name, d.k, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM, and SIGKILL to the group after ten seconds.
func (p *process) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("%s did not stop within 10s of SIGTERM; killed", p.name)
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// keepalived starts keepalived's checker process alone (no VRRP) in the
// foreground, with conf as its configuration.
func (d *director) keepalived(conf string) *process {
	d.t.Helper()
	path := filepath.Join(d.dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return d.start("keepalived", "keepalived", "--dont-fork", "--log-console", "--log-detail", "--no-syslog", "--check",
		"--use-file", path, "--pid", filepath.Join(d.dir, "keepalived.pid"),
		"--checkers_pid", filepath.Join(d.dir, "checkers.pid"), "--vrrp_pid", filepath.Join(d.dir, "vrrp.pid"))
}

// ipvsdBinary is the ipvsd program make integration puts beside the
// test binary, or one on PATH.
func ipvsdBinary(t *testing.T) string {
	t.Helper()
	if p, err := filepath.Abs("ipvsd"); err == nil {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	p, err := exec.LookPath("ipvsd")
	if err != nil {
		t.Fatal("no ipvsd program beside the test or on PATH: run the kernel tests with make integration")
	}
	return p
}

// syncInterval is the ipvsd's sync interval in these tests: short, so
// that a repair is quick to see.
const syncInterval = time.Second

// ipvsdConfig imports conf as ipvsd import-keepalived does, and sets
// the director's sync interval.
func (d *director) ipvsdConfig(conf string) []byte {
	d.t.Helper()
	path := filepath.Join(d.dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		d.t.Fatal(err)
	}
	res, err := keepalived.Import(path, keepalived.Options{})
	if err != nil {
		d.t.Fatalf("import: %v", err)
	}
	return append([]byte(fmt.Sprintf("director:\n  sync_interval: %s\n", syncInterval)), res.YAML...)
}

// ipvsd starts ipvsd with conf, a keepalived configuration, imported.
func (d *director) ipvsd(conf string) *process {
	d.t.Helper()
	path := filepath.Join(d.dir, "ipvsd.yaml")
	if err := os.WriteFile(path, d.ipvsdConfig(conf), 0o644); err != nil {
		d.t.Fatal(err)
	}
	return d.start("ipvsd", ipvsdBinary(d.t), "run", "--config.file", path, "--no-config.watch",
		"--state.dir", filepath.Join(d.dir, "state"), "--web.listen-address", "unix:"+filepath.Join(d.dir, "ipvsd.sock"),
		"--log.level", "debug")
}

// reload makes the daemon of director d take conf, as its operator
// would: keepalived rereads its file on SIGHUP, and ipvsd its own,
// imported from conf.
func (d *director) reload(p *process, conf string) {
	d.t.Helper()
	var path string
	var data []byte
	switch p.name {
	case "keepalived":
		path, data = filepath.Join(d.dir, "keepalived.conf"), []byte(conf)
	default:
		path, data = filepath.Join(d.dir, "ipvsd.yaml"), d.ipvsdConfig(conf)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		d.t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		d.t.Fatalf("%s: %v", p.name, err)
	}
}
