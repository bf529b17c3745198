package director

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// TestWritesOncePerInterval: however often the checks change, a write
// comes at least a sync interval after the last; the first change after
// a quiet interval is written at once.
func TestWritesOncePerInterval(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync() // at clock T
	write := r.clock
	r.checks.setHealth(t, "10.0.0.2:8080", check.Down, -1)
	r.d.refresh()
	if next := r.d.nextSync(r.clock.Add(100e6)); !next.Equal(write.Add(1e9)) {
		t.Errorf("a change 100ms after a write syncs at %v, want %v", next.Sub(write), 1e9)
	}
	if now := r.clock.Add(3e9); r.d.nextSync(now).After(now) {
		t.Errorf("a change 3s after a write syncs %v later, want at once", r.d.nextSync(now).Sub(now))
	}
	// Back up before the sync: nothing is pending, the next sync is the
	// periodic one.
	r.checks.setHealth(t, "10.0.0.2:8080", check.Up, -1)
	r.d.refresh()
	if next := r.d.nextSync(r.clock.Add(100e6)); !next.Equal(r.clock.Add(1e9)) {
		t.Errorf("with nothing pending, the next sync is %v after the last", next.Sub(r.clock))
	}
}

// tickedChecks are checks whose scheduler's loop last ran at a given
// time.
type tickedChecks struct {
	*fakeChecks
	at time.Time
}

func (c tickedChecks) LastTick() time.Time { return c.at }

// TestLiveness: liveness fails when the check scheduler or the sync loop
// has not run for a while, and names which.
func TestLiveness(t *testing.T) {
	r := newRig(t, webYAML)
	now := time.Now()
	if why := r.d.Liveness(now); !strings.Contains(why, "the sync loop has not run") {
		t.Errorf("before the loop ran: %q", why)
	}
	r.d.loopTick.Store(now.UnixNano())
	if why := r.d.Liveness(now); why != "" {
		t.Errorf("running: %q", why)
	}
	r.d.checks = tickedChecks{r.checks, now.Add(time.Minute)}
	if why := r.d.Liveness(now.Add(time.Minute)); !strings.Contains(why, "the sync loop has not run for 1m0s") {
		t.Errorf("a minute later: %q", why)
	}
	r.d.syncing.Store(now.Add(-time.Hour).UnixNano())
	if why := r.d.Liveness(now); !strings.Contains(why, "a sync has run for 1h0m0s") {
		t.Errorf("a stuck sync: %q", why)
	}
	r.d.syncing.Store(0)
	r.d.checks = tickedChecks{r.checks, now.Add(-time.Minute)}
	if why := r.d.Liveness(now); !strings.Contains(why, "the check scheduler has not run for") {
		t.Errorf("a stalled scheduler: %q", why)
	}
}

// TestOverloadedLoop: with every sync due as soon as the last ends (a
// clock that runs faster than any interval, as on a machine too busy for
// its table), a check's change still reaches the table and the loop
// still stops when its context ends.
func TestOverloadedLoop(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	var ticks atomic.Int64
	start := r.clock
	r.d.now = func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * 10 * time.Second) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.d.Run(ctx) }()
	r.checks.setHealth(t, "10.0.0.2:8080", check.Down, -1)
	for deadline := time.Now().Add(10 * time.Second); strings.Contains(r.table(), "10.0.0.2:8080"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("a failed check did not reach the table of a loop whose syncs are always due:\n%s", r.table())
		}
	}
	cancel()
	returns(t, done, "with syncs always due")
}

// returns waits for Run's end, after its context ended.
func returns(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of its context's end, " + what)
	}
}

// TestFailedSyncWithAChangePending: a sync that fails while a change
// waits to be written (a backend went down) is tried again a sync
// interval later, not at once, over and over; and a stop that comes
// then, every sync failing as the stop cancels it, ends the loop.
func TestFailedSyncWithAChangePending(t *testing.T) {
	r := newRig(t, webYAML)
	r.sync()
	r.checks.setHealth(t, "10.0.0.2:8080", check.Down, -1)
	r.d.refresh()
	if !r.d.Status(nil).Sync.Pending {
		t.Fatal("no change pending")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.clock = r.clock.Add(time.Hour)
	r.d.syncOnce(ctx)
	if st := r.d.Status(nil).Sync; st.Error == "" || !st.Pending {
		t.Fatalf("a sync with its context ended: %+v", st)
	}
	if next := r.d.nextSync(r.clock); !next.Equal(r.clock.Add(time.Second)) {
		t.Errorf("after a failed sync, the next comes %v later, want a sync interval", next.Sub(r.clock))
	}
	r.d.now = time.Now
	done := make(chan error, 1)
	go func() { done <- r.d.Run(ctx) }()
	returns(t, done, "with its syncs failing")
}
