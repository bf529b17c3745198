package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/ipvs-go/ipvs/reconcile"
)

// BenchmarkRestorePlan reads a save of 10,000 services × 10 destinations
// and plans it onto an empty table: the part of -R that is not the kernel's.
func BenchmarkRestorePlan(b *testing.B) {
	var save bytes.Buffer
	for i := range 10000 {
		svc := fmt.Sprintf("-t 10.%d.%d.%d:80", 1+i>>16, i>>8&255, i&255)
		fmt.Fprintf(&save, "-A %s -s rr\n", svc)
		for j := range 10 {
			fmt.Fprintf(&save, "-a %s -r 172.16.0.%d:8080 -m -w 1\n", svc, j+1)
		}
	}
	for b.Loop() {
		e := &env{ctx: context.Background(), program: "ipvsctl", stdin: bytes.NewReader(save.Bytes()), out: bufio.NewWriter(io.Discard), errw: io.Discard}
		d := newDesired(nil, nil, false)
		if code := e.readRestore(d.apply); code != 0 {
			b.Fatal(code)
		}
		if err := d.plans(nil, reconcile.Options{Owns: d.owns}, func(*reconcile.Plan) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
