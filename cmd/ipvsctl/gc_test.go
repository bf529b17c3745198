package main

import (
	"runtime/debug"
	"testing"
)

// collectLess raises the collector's target while a plan is applied and
// puts the settings back after, unless the environment set them.
func TestCollectLess(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	defer debug.SetGCPercent(percent)
	defer debug.SetMemoryLimit(limit)
	before := debug.SetMemoryLimit(-1)

	restore := collectLess()
	if got := debug.SetMemoryLimit(-1); got < convergeMemory {
		t.Errorf("memory limit while converging = %d, want at least %d", got, convergeMemory)
	}
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("GC percent while converging = %d, want -1 (the limit alone)", got)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("memory limit after = %d, want %d", got, before)
	}
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("GC percent after = %d, want 100", got)
	}
	debug.SetGCPercent(100)

	t.Setenv("GOGC", "50")
	collectLess()()
	if got := debug.SetGCPercent(-1); got != 100 {
		t.Errorf("with GOGC set, GC percent = %d, want it untouched (100)", got)
	}
}
