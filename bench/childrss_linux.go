package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A child's peak resident set cannot come from its rusage: at exec, Linux
// keeps the exec'ing process's high-water mark in the new program's
// maxrss, and Go starts children with clone(CLONE_VM|CLONE_VFORK), so the
// mm that high-water mark comes from is the bench's own. Every child's
// ru_maxrss is floored by the bench's peak. runPeak reads the child's
// own mm instead (VmHWM), at the moment it exits, when the mm is still
// there: the child runs under ptrace and stops at each of its threads'
// exits (PTRACE_O_TRACEEXIT).
//
// Every thread is traced (PTRACE_O_TRACECLONE), not the first alone, and
// the peak is the largest VmHWM read at any thread's exit stop: exit_group
// kills the other threads, and a killed thread may exit without its exit
// stop (the first thread was seen to, with the others traced). The
// thread that calls exit_group is not killed, and stops with the mm whole.

// runPeak runs cmd as cmd.Run does and returns the peak resident set of
// the program it runs, in KiB, read at its exit (also when it failed).
// cmd.Stdin, Stdout and
// Stderr must each be nil or an *os.File, so that os/exec starts no
// goroutine to copy them (this function reaps the child itself and never
// calls cmd.Wait, which would wait for those goroutines); cmd.Process is
// released on return. The child runs in a process group of its own,
// which lets the wait below take its threads and nothing else, and is
// killed if the bench dies. The peak is the last program's: one that
// execs another loses the first's mm.
func runPeak(cmd *exec.Cmd) (int64, error) {
	for _, s := range []any{cmd.Stdin, cmd.Stdout, cmd.Stderr} {
		if _, ok := s.(*os.File); s != nil && !ok {
			return 0, fmt.Errorf("runPeak %s: standard streams must be *os.File, not %T", cmd.Path, s)
		}
	}
	// Only the thread that started a tracee may make ptrace requests of it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	attr := syscall.SysProcAttr{}
	if cmd.SysProcAttr != nil {
		attr = *cmd.SysProcAttr
	}
	attr.Ptrace, attr.Setpgid, attr.Pgid = true, true, 0
	cmd.SysProcAttr = &attr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer cmd.Process.Release()
	peak, ws, err := traceToExit(cmd.Process.Pid)
	switch {
	case err != nil:
		return 0, err
	case ws.Signaled():
		return peak, fmt.Errorf("signal: %v", ws.Signal())
	case ws.ExitStatus() != 0:
		return peak, fmt.Errorf("exit status %d", ws.ExitStatus())
	case peak == 0:
		return 0, errors.New("the child exited without an exit stop")
	}
	return peak, nil
}

// traceToExit follows the tracee pid, stopped or about to stop after its
// exec, until it has exited, and returns its peak resident set (the
// largest VmHWM read at its threads' exit stops) and its wait status.
// Signals meant for the child are passed on to it.
func traceToExit(pid int) (peak int64, status syscall.WaitStatus, err error) {
	started := false
	known := map[int]bool{pid: true}
	var errs []error
	for {
		var ws syscall.WaitStatus
		tid, err := syscall.Wait4(-pid, &ws, syscall.WALL, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return 0, ws, fmt.Errorf("wait4: %w", err)
		}
		if ws.Exited() || ws.Signaled() {
			if tid == pid {
				// The first thread is reported last, after all the others.
				return peak, ws, errors.Join(errs...)
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		sig, pass := ws.StopSignal(), syscall.Signal(0)
		switch {
		case !started && tid == pid && sig == syscall.SIGTRAP:
			// The stop after the exec: from here on, each thread stops
			// when it starts and when it ends.
			started = true
			opts := syscall.PTRACE_O_TRACEEXIT | syscall.PTRACE_O_TRACECLONE | unix.PTRACE_O_EXITKILL
			if err := syscall.PtraceSetOptions(pid, opts); err != nil {
				errs = append(errs, fmt.Errorf("PTRACE_SETOPTIONS: %w", err))
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		case sig == syscall.SIGTRAP && ws.TrapCause() == syscall.PTRACE_EVENT_EXIT:
			kib, err := processPeakRSS(tid)
			if err != nil {
				errs = append(errs, err)
			}
			peak = max(peak, kib)
		case sig == syscall.SIGTRAP && ws.TrapCause() == syscall.PTRACE_EVENT_CLONE:
		case sig == syscall.SIGSTOP && !known[tid]:
			// A new thread's first stop, which tracing it caused.
		default:
			pass = sig
		}
		known[tid] = true
		// A thread killed meanwhile cannot be continued, and need not be.
		_ = syscall.PtraceCont(tid, int(pass))
	}
}

// runInput runs name with args, with input as its standard input (none
// if nil) and its standard output discarded, and returns its wall time
// and, traced, its peak resident set in KiB (runPeak; 0 untraced); a
// failure's error holds its standard error.
func runInput(input []byte, traced bool, name string, args ...string) (time.Duration, int64, error) {
	cmd := exec.Command(name, args...)
	if input != nil {
		in, err := tempFile("bench-stdin-", input)
		if err != nil {
			return 0, 0, err
		}
		defer in.Close()
		cmd.Stdin = in
	}
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, 0, err
	}
	defer null.Close()
	errf, err := tempFile("bench-stderr-", nil)
	if err != nil {
		return 0, 0, err
	}
	defer errf.Close()
	cmd.Stdout, cmd.Stderr = null, errf
	var peak int64
	start := time.Now()
	if traced {
		peak, err = runPeak(cmd)
	} else {
		err = cmd.Run()
	}
	d := time.Since(start)
	if err != nil {
		_, _ = errf.Seek(0, io.SeekStart)
		msg, _ := io.ReadAll(errf)
		return d, 0, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, msg)
	}
	return d, peak, nil
}

// tempFile returns an open file holding b, read from its start, and
// already removed from its directory.
func tempFile(pattern string, b []byte) (*os.File, error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
