package main

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopsWhileReading: a signal stops a restore or an apply that waits
// on its input, with the shell's status for the signal, and nothing is
// written.
func TestStopsWhileReading(t *testing.T) {
	for _, args := range [][]string{{"-R"}, {"apply", "-f", "-"}} {
		f := fakeWith(t, fourServices)
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		go func() { _, _ = io.WriteString(pw, "-C\n") }()
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(50*time.Millisecond, func() { cancel(signalError{syscall.SIGINT}) })
		done := make(chan result, 1)
		go func() { done <- ctlContext(t, ctx, f, pr, args...) }()
		select {
		case r := <-done:
			if r.code != 130 || r.stderr != "ipvsctl: stopped by interrupt\n" {
				t.Errorf("%v: status %d, %q", args, r.code, r.stderr)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: still reading its input 5 s after the signal", args)
		}
		if n := len(f.VirtualServers()); n != 4 {
			t.Errorf("%v: %d services of 4 after the signal", args, n)
		}
	}
}

// TestSignalEndsTheProgram sends SIGINT and SIGTERM to the built program
// while it reads its input.
func TestSignalEndsTheProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	bin := filepath.Join(t.TempDir(), "ipvsctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := exec.Command(bin, "apply", "-f", "-")
		pw, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errb strings.Builder
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		_ = cmd.Process.Signal(sig)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("%v: still running 10 s after the signal", sig)
		}
		pw.Close()
		if code := cmd.ProcessState.ExitCode(); code != 128+int(sig) || !strings.Contains(errb.String(), "stopped by "+sig.String()) {
			t.Errorf("%v: status %d, %q", sig, code, errb.String())
		}
	}
}
