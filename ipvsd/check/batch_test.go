package check

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// startsOf returns the start of each attempt at t, from start.
func (b *backend) startsOf(t int, start time.Time) []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []time.Duration
	for _, c := range b.calls[target(t)] {
		out = append(out, c.Sub(start))
	}
	return out
}

// addLater runs check 1 from the start and adds check 2 after, so that
// check 2's rounds are due after check 1's by after.
func addLater(t *testing.T, interval, after time.Duration) (b *backend, start time.Time) {
	b = newBackend()
	one, two := tcpDef(1), tcpDef(2)
	one.Interval, two.Interval = interval, interval
	s := startChecks(t, Options{Probe: b.probe}, one)
	start = time.Now()
	time.Sleep(after)
	if err := s.Set([]Definition{one, two}); err != nil {
		t.Fatal(err)
	}
	return b, start
}

func TestChecksDueCloseStartTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Check 2 first is due 30 ms before check 1's second round: check
		// 1 starts with it, and stays with it.
		b, start := addLater(t, time.Second, 970*time.Millisecond)
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		ms := time.Millisecond
		if got, want := b.startsOf(1, start), []time.Duration{0, 970 * ms, 1970 * ms, 2970 * ms, 3970 * ms}; !slices.Equal(got, want) {
			t.Errorf("check 1 started at %v, want %v", got, want)
		}
		if got, want := b.startsOf(2, start), []time.Duration{970 * ms, 1970 * ms, 2970 * ms, 3970 * ms}; !slices.Equal(got, want) {
			t.Errorf("check 2 started at %v, want %v", got, want)
		}
	})
}

func TestChecksStartEarlyByAShareOfTheirInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// At a 100 ms interval a check may start 5 ms early: check 1, due
		// 30 ms after check 2, keeps its own time.
		b, start := addLater(t, 100*time.Millisecond, 70*time.Millisecond)
		time.Sleep(250 * time.Millisecond)
		synctest.Wait()
		ms := time.Millisecond
		if got, want := b.startsOf(1, start), []time.Duration{0, 100 * ms, 200 * ms, 300 * ms}; !slices.Equal(got, want) {
			t.Errorf("check 1 started at %v, want %v", got, want)
		}
		if got, want := b.startsOf(2, start), []time.Duration{70 * ms, 170 * ms, 270 * ms}; !slices.Equal(got, want) {
			t.Errorf("check 2 started at %v, want %v", got, want)
		}
	})
}
