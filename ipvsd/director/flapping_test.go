package director

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// TestFlappingChecks: the loop, running, with two thousand checks of
// which hundreds flap every millisecond: every write comes at least one
// sync interval after the last, and when they stop the table converges.
func TestFlappingChecks(t *testing.T) {
	const services, reals = 200, 10
	var b strings.Builder
	b.WriteString("director: {sync_interval: 100ms}\nvirtual_servers:\n")
	for i := range services {
		fmt.Fprintf(&b, "  - {address: 192.0.%d.%d, port: 80, checks: [{type: tcp}], real_servers: [", 2+i/250, 1+i%250)
		for j := range reals {
			fmt.Fprintf(&b, "{address: 10.%d.%d.%d, port: 8080},", j, i/250, 1+i%250)
		}
		b.WriteString("]}\n")
	}
	r := newRig(t, b.String())
	r.d.now = time.Now
	var mu sync.Mutex
	var writes []time.Time
	r.d.observer = observerFunc(func(s SyncReport) {
		if len(s.Changes) > 0 {
			mu.Lock()
			writes = append(writes, s.Start)
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.d.Run(ctx); close(done) }()
	rng := rand.New(rand.NewPCG(3, 4))
	for start := time.Now(); time.Since(start) < 2*time.Second; time.Sleep(time.Millisecond) {
		r.checks.setAll(func(check.Definition) check.Health {
			if rng.IntN(10) == 0 {
				return []check.Health{check.Up, check.Down}[rng.IntN(2)]
			}
			return check.Unknown // unchanged
		})
	}
	r.checks.setAll(func(check.Definition) check.Health { return check.Up })
	converged := func() bool {
		vss := r.fake.VirtualServers()
		if len(vss) != services {
			return false
		}
		for _, vs := range vss {
			if len(vs.Destinations) != reals {
				return false
			}
			for _, d := range vs.Destinations {
				if d.Weight != 1 {
					return false
				}
			}
		}
		return true
	}
	for deadline := time.Now().Add(20 * time.Second); !converged() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if !converged() {
		t.Fatal("the table did not converge once the checks stopped flapping")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(writes) < 2 {
		t.Fatalf("%d writes", len(writes))
	}
	for i := 1; i < len(writes); i++ {
		if gap := writes[i].Sub(writes[i-1]); gap < 100*time.Millisecond {
			t.Errorf("write %d came %v after the one before", i, gap)
		}
	}
	t.Logf("%d writes in %v of flapping", len(writes), writes[len(writes)-1].Sub(writes[0]).Round(time.Millisecond))
}
