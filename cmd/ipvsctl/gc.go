package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
)

// convergeMemory is the memory the runtime may take while a plan is
// applied before the garbage collector runs, for a table whose live heap
// is less than half of it. Each group of a plan leaves its values, plan
// and batch as garbage (see groupObjects); with the default GOGC the
// collector would run whenever that garbage equals the table, many times
// over a large restore, each run costing CPU that the kernel's writes
// need. Bounded so that a restore's peak stays near ipvsadm's.
const convergeMemory = 40 << 20

// collectLess lets the heap grow to convergeMemory, or to twice the live
// heap for a larger table (as the default GOGC would), before the
// collector runs; the returned function restores the settings. A GOGC or
// GOMEMLIMIT of the environment is the user's choice, and kept.
func collectLess() (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	limit := int64(convergeMemory)
	if live[0].Value.Kind() == metrics.KindUint64 {
		limit = max(limit, 2*int64(live[0].Value.Uint64()))
	}
	percent := debug.SetGCPercent(-1)
	before := debug.SetMemoryLimit(limit)
	return func() {
		debug.SetMemoryLimit(before)
		debug.SetGCPercent(percent)
	}
}
