package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"testing"
)

// peakChildEnv makes the test binary a child for runPeak's tests: it
// touches that many MiB and exits.
const peakChildEnv = "BENCH_PEAK_CHILD_MIB"

func init() {
	if os.Getenv(peakChildEnv) != "" {
		// Keeps main on the first thread, so that the exit below comes
		// from another one, which the first thread's exit stop misses.
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if s := os.Getenv(peakChildEnv); s != "" {
		mib, err := strconv.Atoi(s)
		if err != nil {
			os.Exit(2)
		}
		go func() {
			runtime.LockOSThread()
			touch(mib)
			os.Exit(0)
		}()
		select {}
	}
	os.Exit(m.Run())
}

var touched []byte

// touch makes mib MiB resident: it writes every page.
func touch(mib int) {
	touched = make([]byte, mib<<20)
	for i := 0; i < len(touched); i += 4096 {
		touched[i] = 1
	}
}

func peakChild(t *testing.T, mib int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), peakChildEnv+"="+strconv.Itoa(mib))
	cmd.Stderr = os.Stderr
	return cmd
}

func TestRunPeakSeesWhatTheChildTouched(t *testing.T) {
	kib, err := runPeak(peakChild(t, 64))
	if err != nil {
		t.Fatal(err)
	}
	if kib < 64<<10 {
		t.Errorf("peak %d KiB, want at least 64 MiB", kib)
	}
}

func TestRunPeakIsNotFlooredByTheParents(t *testing.T) {
	touch(200)
	defer func() { touched = nil }()
	kib, err := runPeak(peakChild(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	if kib >= 100<<10 {
		t.Errorf("peak %d KiB of a child that touched nothing, from a parent that touched 200 MiB", kib)
	}
	// The figure runPeak replaces, for the log: on the kernels that carry
	// the parent's high-water mark across exec, it is over 200 MiB.
	cmd := peakChild(t, 0)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	t.Logf("runPeak: %d KiB; rusage's maxrss: %d KiB", kib, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
}

func TestRunPeakReportsAFailure(t *testing.T) {
	_, err := runPeak(exec.Command("sh", "-c", "exit 3"))
	if err == nil || err.Error() != "exit status 3" {
		t.Errorf("err %v, want exit status 3", err)
	}
	_, err = runPeak(exec.Command("sh", "-c", "kill -TERM $$"))
	if err == nil || err.Error() != "signal: terminated" {
		t.Errorf("err %v, want signal: terminated", err)
	}
}

func TestRunInputPassesInputAndReportsStderr(t *testing.T) {
	for _, traced := range []bool{false, true} {
		_, kib, err := runInput([]byte("hello\n"), traced, "sh", "-c", `read l; [ "$l" = hello ] && echo out`)
		if err != nil || (kib > 0) != traced {
			t.Errorf("runInput, traced %v: %d KiB, %v", traced, kib, err)
		}
		_, _, err = runInput(nil, traced, "sh", "-c", "echo broken >&2; exit 1")
		if err == nil || err.Error() != "sh -c echo broken >&2; exit 1: exit status 1: broken\n" {
			t.Errorf("traced %v: err %q", traced, err)
		}
	}
}

// TestResetPeakRSS: after 200 MiB touched and let go, resetPeakRSS
// lowers the bench's peak, so that the next contender's is its own.
func TestResetPeakRSS(t *testing.T) {
	touch(200)
	touched = nil
	high, err := processPeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := resetPeakRSS(); err != nil {
		t.Fatal(err)
	}
	low, err := processPeakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if high < 200<<10 || low > high-150<<10 {
		t.Fatalf("peak %d KiB after 200 MiB touched, %d KiB after the reset", high, low)
	}
}
