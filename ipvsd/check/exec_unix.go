//go:build unix

package check

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// waitDelay is how long a command's pipes may stay open after it exits
// (a child it left behind holds them) before the check stops reading.
const waitDelay = 100 * time.Millisecond

// probeExec runs the command in a process group of its own and judges
// its exit code. When ctx ends first the whole group is killed, so that a
// script's children cannot outlive its timeout.
func (s *spec) probeExec(ctx context.Context) Outcome {
	e := &s.def.Exec
	cmd := exec.CommandContext(ctx, s.path, e.Command[1:]...)
	cmd.Args[0] = e.Command[0]
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.runAs != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: s.runAs.uid, Gid: s.runAs.gid, NoSetGroups: true}
	}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = waitDelay
	out := &boundedBuffer{max: e.MaxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = os.Environ()
	if s.def.Target.IsValid() {
		cmd.Env = append(cmd.Env,
			"IPVSD_CHECK_ADDRESS="+s.def.Target.Addr().String(),
			"IPVSD_CHECK_PORT="+strconv.Itoa(int(s.def.Target.Port())))
	}
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		// The command exited, but left children holding its output:
		// they go with it.
		_ = killGroup(cmd)
		err = nil
	}
	if ctx.Err() != nil {
		return Outcome{Err: probeErr(ctx, "run", ctx.Err())}
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return Outcome{Err: &probeError{op: "run", err: err}}
		}
		code = ee.ExitCode()
		if code < 0 {
			return Outcome{Err: mismatch("run", ee.ProcessState.String()+outputText(out))}
		}
	}
	return judgeExit(code, e.Dynamic, out)
}

// judgeExit reads an exit code, as misc_dynamic does when dynamic is set.
func judgeExit(code int, dynamic bool, out *boundedBuffer) Outcome {
	switch {
	case code == 0:
		return Outcome{}
	case dynamic && code >= 2 && code <= 255:
		return Outcome{Weight: code - 2, HasWeight: true}
	}
	return Outcome{Err: mismatch("run", "exit status "+strconv.Itoa(code)+outputText(out))}
}

// killGroup kills the command's process group.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// outputText returns ": " and the command's first line of output, or
// nothing when it wrote none.
func outputText(out *boundedBuffer) string {
	text := strings.TrimSpace(string(out.b))
	if i := strings.IndexByte(text, '\n'); i >= 0 {
		text = text[:i]
	}
	if text == "" {
		return ""
	}
	return ": " + text
}

// boundedBuffer keeps the first max bytes written to it and drops the
// rest, so that a command's output cannot grow the daemon.
type boundedBuffer struct {
	max int
	b   []byte
}

// Write keeps what fits and reports all of p written.
func (w *boundedBuffer) Write(p []byte) (int, error) {
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
