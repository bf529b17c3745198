//go:build unix

package check

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// script writes a shell script to a file of the test's and returns its
// path.
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "check.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExec(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		dynamic bool
		target  netip.AddrPort
		weight  int // -1: none
		err     string
	}{
		{"exit 0", "exit 0", false, netip.AddrPort{}, -1, ""},
		{"exit 1", "echo 'backend said no'; echo more; exit 1", false, netip.AddrPort{}, -1, "run: exit status 1: backend said no"},
		{"exit 3", "exit 3", false, netip.AddrPort{}, -1, "run: exit status 3"},
		{"signal", "kill -TERM $$", false, netip.AddrPort{}, -1, "run: signal: terminated"},
		{"dynamic 0", "exit 0", true, netip.AddrPort{}, -1, ""},
		{"dynamic 1", "exit 1", true, netip.AddrPort{}, -1, "run: exit status 1"},
		{"dynamic 7", "exit 7", true, netip.AddrPort{}, 5, ""},
		{"dynamic 255", "exit 255", true, netip.AddrPort{}, 253, ""},
		{"environment", `[ "$IPVSD_CHECK_ADDRESS:$IPVSD_CHECK_PORT" = "192.0.2.1:8080" ] || { echo "$IPVSD_CHECK_ADDRESS:$IPVSD_CHECK_PORT"; exit 1; }`,
			false, netip.MustParseAddrPort("192.0.2.1:8080"), -1, ""},
		{"arguments", `[ "$1" = "a b" ] && [ "$2" = "c" ]`, false, netip.AddrPort{}, -1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Definition{Kind: KindExec, Target: tt.target, Timeout: 10 * time.Second,
				Exec: ExecCheck{Command: []string{script(t, tt.body), "a b", "c"}, Dynamic: tt.dynamic}}
			out := Probe(context.Background(), d)
			switch {
			case tt.err == "" && out.Err != nil:
				t.Fatalf("probe: %v", out.Err)
			case tt.err != "" && (out.Err == nil || out.Err.Error() != tt.err || !errors.Is(out.Err, ErrMismatch)):
				t.Fatalf("probe: %v, want %q", out.Err, tt.err)
			}
			if got := map[bool]int{false: -1, true: out.Weight}[out.HasWeight]; got != tt.weight {
				t.Errorf("weight %d, want %d", got, tt.weight)
			}
		})
	}
}

// alive reports whether the process pid runs (a zombie does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z"
}

// readPID waits for a script to write its child's PID to file.
func readPID(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	pid, err2 := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || err2 != nil {
		t.Fatalf("no child PID in %s: %v %v", file, err, err2)
	}
	return pid
}

func TestExecTimeoutKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	body := "sleep 60 &\necho $! > " + pidFile + "\necho $$ >> " + pidFile + ".self\nsleep 60"
	// The timeout leaves the script time to start its child and say so
	// on a loaded machine.
	d := Definition{Kind: KindExec, Timeout: 2 * time.Second, Exec: ExecCheck{Command: []string{script(t, body)}}}
	start := time.Now()
	out := Probe(context.Background(), d)
	if !errors.Is(out.Err, ErrTimeout) || out.Err.Error() != "run: timed out" {
		t.Fatalf("probe of a hanging script: %v", out.Err)
	}
	if took := time.Since(start); took > 12*time.Second {
		t.Errorf("probe took %v with a timeout of 2s", took)
	}
	child, self := readPID(t, pidFile), readPID(t, pidFile+".self")
	deadline := time.Now().Add(5 * time.Second)
	for (alive(child) || alive(self)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(child) || alive(self) {
		t.Errorf("script %d alive %v, its child %d alive %v after the timeout", self, alive(self), child, alive(child))
	}
}

func TestExecChildLeftBehind(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "child")
	// The child keeps the script's output open after the script exits.
	body := "sleep 60 &\necho $! > " + pidFile + "\nexit 0"
	d := Definition{Kind: KindExec, Timeout: 30 * time.Second, Exec: ExecCheck{Command: []string{script(t, body)}}}
	start := time.Now()
	if out := Probe(context.Background(), d); out.Err != nil {
		t.Fatalf("probe: %v", out.Err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("probe waited %v for a child that holds the output", took)
	}
	child := readPID(t, pidFile)
	deadline := time.Now().Add(5 * time.Second)
	for alive(child) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(child) {
		t.Errorf("child %d outlived the check", child)
	}
}

func TestExecOutputIsBounded(t *testing.T) {
	body := "head -c 10000000 /dev/zero | tr '\\0' x; exit 1"
	d := Definition{Kind: KindExec, Timeout: 30 * time.Second, Exec: ExecCheck{Command: []string{script(t, body)}, MaxOutput: 100}}
	out := Probe(context.Background(), d)
	if out.Err == nil {
		t.Fatal("probe passed")
	}
	if want := "run: exit status 1: " + strings.Repeat("x", 100); out.Err.Error() != want {
		t.Errorf("error of %d bytes, want %d", len(out.Err.Error()), len(want))
	}
}

func TestExecAsAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("switching users needs root")
	}
	body := `[ "$(id -u):$(id -g)" = "$1" ] || { echo "ran as $(id -u):$(id -g)"; exit 1; }`
	path := script(t, body)
	// The test's directories are the test's user's alone; nobody must
	// reach the script.
	for dir := filepath.Dir(path); dir != os.TempDir() && dir != "/"; dir = filepath.Dir(dir) {
		os.Chmod(dir, 0o755)
	}
	for _, tt := range []struct{ user, group, want string }{
		{"nobody", "", "65534:65534"},
		{"65534", "0", "65534:0"},
	} {
		d := Definition{Kind: KindExec, Timeout: 10 * time.Second,
			Exec: ExecCheck{Command: []string{path, tt.want}, User: tt.user, Group: tt.group}}
		if out := Probe(context.Background(), d); out.Err != nil {
			t.Errorf("as %s:%s: %v", tt.user, tt.group, out.Err)
		}
	}
}
