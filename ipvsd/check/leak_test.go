package check

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestStopEndsEverything runs real probes against targets that answer,
// refuse and hang, with timeouts far longer than the test, then stops
// the scheduler: Run must return promptly, and every goroutine the
// checks started must be gone.
func TestStopEndsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	// A subtest, so that the servers' cleanups have run when it returns.
	t.Run("checks", func(t *testing.T) {
		ok := rawServer(t, func(c net.Conn) { drain(c); c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) })
		hang := rawServer(t, func(c net.Conn) { drain(c); c.Read(make([]byte, 1)) })
		silent := udpServer(t, func([]byte) [][]byte { return nil })
		var defs []Definition
		for _, d := range []Definition{
			{Kind: KindHTTP, Target: ok},
			{Kind: KindHTTP, Target: hang},
			{Kind: KindTCP, Target: closedPort(t)},
			{Kind: KindUDP, Target: silent},
			{Kind: KindDNS, Target: silent},
		} {
			d.Interval, d.Timeout = 10*time.Millisecond, time.Minute
			defs = append(defs, d)
		}
		sleep := Definition{Kind: KindExec, Interval: time.Second, Timeout: time.Minute, Exec: ExecCheck{Command: []string{"sleep", "60"}}}
		defs = append(defs, sleep)
		s := NewScheduler(Options{})
		if err := s.Set(defs); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx) }()
		for deadline := time.Now().Add(10 * time.Second); s.InFlight() < 4 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if n := s.InFlight(); n < 4 {
			t.Errorf("%d attempts in flight, want the four that hang", n)
		}
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return within 10 s of its context's end")
		}
		if n := s.InFlight(); n != 0 {
			t.Errorf("%d attempts in flight after Run returned", n)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
