//go:build linux

package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"runtime/pprof"
)

// startProfile starts a CPU profile of a child when BENCH_CPUPROFILE
// names its contender, so that a profile is taken inside the guest, on
// the real kernel. The returned func stops it and prints it base64 on a
// line "PPROF contender", for the host to decode and read with go tool
// pprof.
func startProfile(contender string) func() {
	if os.Getenv("BENCH_CPUPROFILE") != contender {
		return func() {}
	}
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		fmt.Fprintln(os.Stderr, "bench: profile:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		fmt.Printf("PPROF %s %s\n", contender, base64.StdEncoding.EncodeToString(buf.Bytes()))
	}
}
