package director

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// BenchmarkFailure: at 1,000 virtual servers of 10 real servers on the
// in-memory IPVS, the steps from a check's change to the table: a
// refresh of the desired table, a read of the table, and what the loop
// does from a change to its write, a real server going down and up in
// turn.
func BenchmarkFailure(b *testing.B) {
	var y strings.Builder
	y.WriteString("director: {sync_interval: 1h}\nvirtual_servers:\n")
	for i := range 1000 {
		fmt.Fprintf(&y, "  - {address: 192.0.%d.%d, port: 80, checks: [{type: tcp}], real_servers: [", 2+i/250, 1+i%250)
		for j := range 10 {
			fmt.Fprintf(&y, "{address: 10.%d.%d.%d, port: 8080},", j, i/250, 1+i%250)
		}
		y.WriteString("]}\n")
	}
	r := newRig(b, y.String())
	r.checks.setAll(func(check.Definition) check.Health { return check.Up })
	r.sync()
	r.d.observer = observerFunc(func(s SyncReport) {
		if s.Err != nil || len(s.Failed) > 0 || len(s.Changes) == 0 {
			b.Fatalf("sync: %+v", s)
		}
	})
	ctx := context.Background()
	down := false // the real server's health, which each write turns
	b.Run("refresh", func(b *testing.B) {
		for b.Loop() {
			r.d.refresh()
		}
	})
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.client.VirtualServers(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("change-to-table", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			down = !down
			h := check.Up
			if down {
				h = check.Down
			}
			r.checks.setHealth(b, "10.3.0.7:8080", h, -1)
			b.StartTimer()
			r.d.refresh()
			r.d.sync(ctx, false)
		}
	})
}
