//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	lib "github.com/ipvs-go/ipvs"
)

// curveSizes are the receive buffer sizes the curve measures.
var curveSizes = []int{4 << 10, 8 << 10, 16 << 10, 32 << 10, 64 << 10, 128 << 10}

// runCurve creates n services and times dumping them with each receive
// buffer size, on a new client each time: the kernel sizes a socket's
// dump chunks from the largest buffer it has read with.
func runCurve(n, reps int) error {
	if err := loUp(); err != nil {
		return err
	}
	c, err := lib.New(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	var b lib.Batch
	for i := range n {
		b.CreateService(libSvc(i))
	}
	if _, err := c.Apply(ctx, &b); err != nil {
		return err
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	for rep := range reps {
		for _, size := range curveSizes {
			dc, err := lib.New(&lib.Config{ReceiveBufferSize: size})
			if err != nil {
				return err
			}
			start := time.Now()
			svcs, err := dc.Services(ctx)
			took := time.Since(start)
			dc.Close()
			if err != nil || len(svcs) != n {
				return fmt.Errorf("dump with %d bytes: %d services, %v", size, len(svcs), err)
			}
			j, _ := json.Marshal(result{Contender: fmt.Sprintf("buffer-%d", size), Services: n, Rep: rep, Workload: "dump",
				Objects: n, Seconds: took.Seconds(), Allocs: -1, Kernel: strings.TrimSpace(string(kernel))})
			fmt.Printf("RESULT %s\n", j)
		}
	}
	return nil
}
