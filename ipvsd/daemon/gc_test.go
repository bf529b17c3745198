package daemon

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// gcPercent returns GOGC as it is.
func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// TestLessGarbage: GOGC is lowered while a file is read and restored
// after, unless it was lower already or off.
func TestLessGarbage(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, was := range []int{100, 400, 10, -1} {
		debug.SetGCPercent(was)
		restore := lessGarbage(1 << 40)
		want := min(was, readingGCPercent)
		if was < 0 {
			want = -1
		}
		if got := gcPercent(); got != want {
			t.Errorf("GOGC %d: %d while reading, want %d", was, got, want)
		}
		restore()
		if got := gcPercent(); got != was {
			t.Errorf("GOGC %d: %d after reading", was, got)
		}
	}
}

// TestLessGarbageLeavesASmallFile: a file whose reading fits in the
// heap's room as it is leaves GOGC alone.
func TestLessGarbageLeavesASmallFile(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	keep := make([]byte, 4<<20)
	runtime.GC()
	restore := lessGarbage(1 << 10)
	if got := gcPercent(); got != 100 {
		t.Errorf("GOGC %d while reading a 1 KiB file with %d MiB live, want 100", got, liveHeap()>>20)
	}
	restore()
	runtime.KeepAlive(keep)
}
