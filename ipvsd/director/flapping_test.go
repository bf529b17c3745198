package director

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// TestFlappingChecks: the loop, running, with checks that flap a
// thousand times a second: every write comes at least one sync interval
// after the last, and when they stop the table converges.
func TestFlappingChecks(t *testing.T) {
	r := newRig(t, strings.Replace(webYAML, "sync_interval: 1s", "sync_interval: 100ms", 1))
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
	healths := []check.Health{check.Up, check.Down}
	for i := 0; i < 1500; i++ {
		for _, rs := range []string{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"} {
			r.checks.setHealth(t, rs, healths[(i+len(rs))%2], -1)
		}
		time.Sleep(time.Millisecond)
	}
	for _, rs := range []string{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080"} {
		r.checks.setHealth(t, rs, check.Up, -1)
	}
	want := "tcp 192.0.2.10:80: 10.0.0.1:8080/2 10.0.0.2:8080/1 10.0.0.3:8080/1"
	for deadline := time.Now().Add(10 * time.Second); r.table() != want && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	r.wantTable(want)
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
}
