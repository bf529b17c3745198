package check

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// backend plays the targets of a fake ProbeFunc: each target answers as
// its function says for its n-th attempt (from 0), after its latency.
type backend struct {
	mu      sync.Mutex
	answer  map[netip.AddrPort]func(n int) error
	latency map[netip.AddrPort]time.Duration
	calls   map[netip.AddrPort][]time.Time
}

func newBackend() *backend {
	return &backend{
		answer:  map[netip.AddrPort]func(int) error{},
		latency: map[netip.AddrPort]time.Duration{},
		calls:   map[netip.AddrPort][]time.Time{},
	}
}

func (b *backend) set(t netip.AddrPort, f func(n int) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.answer[t] = f
}

func (b *backend) probe(ctx context.Context, d *Definition) Outcome {
	b.mu.Lock()
	n := len(b.calls[d.Target])
	b.calls[d.Target] = append(b.calls[d.Target], time.Now())
	f, lat := b.answer[d.Target], b.latency[d.Target]
	b.mu.Unlock()
	if lat > 0 {
		select {
		case <-time.After(lat):
		case <-ctx.Done():
			return Outcome{Err: probeErr(ctx, "fake", ctx.Err())}
		}
	}
	if f == nil {
		return Outcome{}
	}
	return Outcome{Err: f(n)}
}

func (b *backend) count(t netip.AddrPort) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.calls[t])
}

var errDown = errors.New("down")

// pattern answers by a string, one letter per attempt ('o' passes, 'x'
// fails), the last letter repeating.
func pattern(p string) func(int) error {
	return func(n int) error {
		if n >= len(p) {
			n = len(p) - 1
		}
		if p[n] == 'x' {
			return errDown
		}
		return nil
	}
}

func target(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 80)
}

func tcpDef(i int) Definition {
	return Definition{Kind: KindTCP, Target: target(i), Interval: time.Second, Timeout: 500 * time.Millisecond}
}

// startChecks runs a Scheduler with opts and defs until the test ends.
func startChecks(t *testing.T, opts Options, defs ...Definition) *Scheduler {
	t.Helper()
	s := NewScheduler(opts)
	if err := s.Set(defs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(running(t, s))
	return s
}

// running starts s in the bubble and returns a stop that ends it and
// waits for Run to return.
func running(t *testing.T, s *Scheduler) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func mustStatus(t *testing.T, s *Scheduler, k Key) Status {
	t.Helper()
	st, ok := s.Status(k)
	if !ok {
		t.Fatalf("no status for %s", k)
	}
	return st
}
