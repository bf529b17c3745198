package director

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// TestExecHooksTimeout: a hook that outlives its timeout is killed with
// its whole process group, and the kill is logged.
func TestExecHooksTimeout(t *testing.T) {
	var logs bytes.Buffer
	e := &ExecHooks{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.run(Hook{Event: "quorum_down", Timeout: 200 * time.Millisecond,
		Command: config.Command{Shell: "sleep 60 & echo $! > " + pidFile + "; wait"}})
	if !strings.Contains(logs.String(), "hook killed at its timeout") {
		t.Errorf("log: %s", logs.String())
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	for _, c := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(c-'0')
	}
	// The grandchild was in the group: it is gone, or a zombie of init.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); err != nil {
			break
		}
		if stat, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat"); strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hook's child %d still runs", pid)
		}
	}
}

// TestExecHooksEnv: a hook sees the event in its environment, and its
// output is logged.
func TestExecHooksEnv(t *testing.T) {
	var logs bytes.Buffer
	e := &ExecHooks{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	e.run(Hook{Event: "notify_up", Timeout: 5 * time.Second, Env: []string{"IPVSD_REAL_SERVER=10.0.0.1:80"},
		Command: config.Command{Args: []string{"/bin/sh", "-c", "echo up $IPVSD_REAL_SERVER"}}})
	if !strings.Contains(logs.String(), `output="up 10.0.0.1:80\n"`) || !strings.Contains(logs.String(), "hook ran") {
		t.Errorf("log: %s", logs.String())
	}
}

// TestHooks: quorum_down and quorum_up run when quorum is lost and
// gained, notify_down and notify_up when a real server's checks fail and
// pass again; a start with every real server up runs none.
func TestHooks(t *testing.T) {
	r := newRig(t, `
virtual_servers:
  - name: web
    address: 192.0.2.10
    port: 80
    quorum: 3
    quorum_up: "true"
    quorum_down: "true"
    checks: [{type: tcp}]
    real_servers:
      - {address: 10.0.0.1, port: 8080, weight: 2, notify_down: "true", notify_up: "true"}
      - {address: 10.0.0.2, port: 8080}
`)
	r.checks.setHealth(t, "10.0.0.1:8080", check.Up, -1)
	r.checks.setHealth(t, "10.0.0.2:8080", check.Up, -1)
	r.sync()
	if got := r.hooks.take(); len(got) != 0 {
		t.Errorf("a start ran %q", got)
	}
	r.checks.setHealth(t, "10.0.0.1:8080", check.Down, -1)
	r.d.refresh()
	if got := r.hooks.take(); !slices.Equal(got, []string{"notify_down 10.0.0.1:8080", "quorum_down web"}) {
		t.Errorf("down: %q", got)
	}
	r.checks.setHealth(t, "10.0.0.1:8080", check.Up, -1)
	r.d.refresh()
	if got := r.hooks.take(); !slices.Equal(got, []string{"notify_up 10.0.0.1:8080", "quorum_up web"}) {
		t.Errorf("up: %q", got)
	}
}
