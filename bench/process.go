//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's
// times, on every architecture Linux builds for.
const clockTicks = 100

// processCPU returns the CPU time (user and system) process pid has
// used; with children, the time of the children it waited for too.
func processCPU(pid int, children bool) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command's name, which is in parentheses:
	// utime, stime, cutime and cstime are the 14th to the 17th of the
	// line.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 15 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, b)
	}
	fields := f[11:13]
	if children {
		fields = f[11:15]
	}
	var ticks int64
	var errs []error
	for _, s := range fields {
		v, err := strconv.ParseInt(s, 10, 64)
		ticks += v
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// processPeakRSS returns the peak resident set of process pid, in KiB.
func processPeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	_, v, ok := strings.Cut(string(b), "VmHWM:")
	if !ok {
		return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	kib, _, _ := strings.Cut(strings.TrimSpace(v), " ")
	return strconv.ParseInt(kib, 10, 64)
}

// resetPeakRSS lowers the bench's own peak resident set (VmHWM) to what
// it holds now, once its garbage is collected and returned to the
// system, so that a later processPeakRSS of it is the peak of what ran
// in between (Linux's clear_refs, value 5).
func resetPeakRSS() error {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// stopDaemon ends a daemon with SIGTERM and waits for it. One still
// running grace later is killed, with its process group if it leads one,
// and the error says so: a daemon that does not stop is a finding, not a
// reason for the suite to hang.
func stopDaemon(cmd *exec.Cmd, grace time.Duration) error {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(grace):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not stop within %s of SIGTERM, and was killed", filepath.Base(cmd.Path), grace)
	}
}
