package check

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// These tests run in synctest bubbles: time is fake and moves only when
// every goroutine of the bubble waits, so schedules are exact, and the
// bubble fails a test that leaves a goroutine behind.

func TestRiseAndFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		// Rounds: ok, x, x, x (down at the 3rd x), o, o (up at the 2nd).
		b.set(target(1), pattern("oxxxoo"))
		d := tcpDef(1)
		d.Rise, d.Fall = 2, 3
		s := startChecks(t, Options{Probe: b.probe}, d)
		want := []struct {
			health              Health
			successes, failures int
		}{
			{Up, 1, 0}, {Up, 0, 1}, {Up, 0, 2}, {Down, 0, 3}, {Down, 1, 0}, {Up, 2, 0},
		}
		start := time.Now()
		for i, w := range want {
			synctest.Wait()
			st := mustStatus(t, s, d.Key())
			if st.Health != w.health || st.Successes != w.successes || st.Failures != w.failures {
				t.Errorf("round %d: health %v successes %d failures %d, want %v %d %d",
					i, st.Health, st.Successes, st.Failures, w.health, w.successes, w.failures)
			}
			if got := st.Last.Time.Sub(start); got != time.Duration(i)*time.Second {
				t.Errorf("round %d started at +%v, want +%ds", i, got, i)
			}
			time.Sleep(time.Second)
		}
		st := mustStatus(t, s, d.Key())
		if st.Transitions != 3 {
			t.Errorf("transitions %d, want 3 (unknown→up→down→up)", st.Transitions)
		}
	})
}

func TestRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		// Round 1: x x o passes on its second retry. Round 2: x x x fails
		// after two retries. Round 3 (down): one x, no retry.
		b.set(target(1), pattern("xxoxxxx"))
		d := tcpDef(1)
		d.Interval, d.Retry, d.RetryDelay = 10*time.Second, 2, time.Second
		s := startChecks(t, Options{Probe: b.probe}, d)
		start := time.Now()
		time.Sleep(25 * time.Second)
		synctest.Wait()
		st := mustStatus(t, s, d.Key())
		if st.Health != Down || st.Transitions != 2 {
			t.Errorf("health %v after %d transitions, want down after 2", st.Health, st.Transitions)
		}
		var at []time.Duration
		b.mu.Lock()
		for _, c := range b.calls[target(1)] {
			at = append(at, c.Sub(start))
		}
		b.mu.Unlock()
		want := []time.Duration{0, time.Second, 2 * time.Second, 10 * time.Second, 11 * time.Second, 12 * time.Second, 20 * time.Second}
		if len(at) != len(want) {
			t.Fatalf("attempts at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] {
				t.Fatalf("attempts at %v, want %v", at, want)
			}
		}
		if st.Last.Attempt != 1 {
			t.Errorf("last attempt %d, want 1: a down check is not retried", st.Last.Attempt)
		}
	})
}

func TestOneProbePerIdenticalCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		var defs []Definition
		for range 100 {
			d := tcpDef(1)
			defs = append(defs, d)
		}
		// The same check written with its defaults spelled out.
		explicit := tcpDef(1)
		explicit.Rise, explicit.Fall, explicit.RetryDelay = 1, 1, DefaultRetryDelay
		defs = append(defs, explicit, tcpDef(2))
		s := startChecks(t, Options{Probe: b.probe}, defs...)
		time.Sleep(4500 * time.Millisecond)
		if n := b.count(target(1)); n != 5 {
			t.Errorf("target 1 probed %d times in 4.5 s, want 5", n)
		}
		if n := len(s.Statuses()); n != 2 {
			t.Errorf("%d checks, want 2", n)
		}
	})
}

func TestSetKeepsStateOfUnchangedChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.set(target(1), pattern("ox"))
		b.latency[target(2)] = 400 * time.Millisecond
		a, gone, fresh := tcpDef(1), tcpDef(2), tcpDef(3)
		s := startChecks(t, Options{Probe: b.probe}, a, gone)
		time.Sleep(2100 * time.Millisecond) // a: up, then down
		before := mustStatus(t, s, a.Key())
		// gone's third attempt is in flight; Set cancels it.
		if err := s.Set([]Definition{fresh, a}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, ok := s.Status(gone.Key()); ok {
			t.Error("a removed check still has a status")
		}
		after := mustStatus(t, s, a.Key())
		if after != before {
			t.Errorf("the kept check's state changed:\n%+v\n%+v", before, after)
		}
		if st := mustStatus(t, s, fresh.Key()); st.Health != Up || st.Transitions != 1 {
			t.Errorf("new check: %+v", st)
		}
		n := b.count(target(2))
		time.Sleep(3 * time.Second)
		if b.count(target(2)) != n {
			t.Error("a removed check is still probed")
		}
		if st := mustStatus(t, s, a.Key()); st.Failures != before.Failures+3 {
			t.Errorf("kept check failures %d, want %d: its counters go on", st.Failures, before.Failures+3)
		}
	})
}

func TestSetRefusesABadDefinitionWhole(t *testing.T) {
	s := NewScheduler(Options{})
	if err := s.Set([]Definition{tcpDef(1)}); err != nil {
		t.Fatal(err)
	}
	bad := tcpDef(2)
	bad.Timeout = -time.Second
	err := s.Set([]Definition{tcpDef(3), bad})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "timeout" {
		t.Fatalf("Set: %v, want a *FieldError for timeout", err)
	}
	if sts := s.Statuses(); len(sts) != 1 || sts[0].Key != tcpDef(1).Key() {
		t.Errorf("a refused Set changed the checks: %v", sts)
	}
}

func TestChangesCoalesce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		var defs []Definition
		for i := range 1000 {
			b.set(target(i), pattern("oxoxoxoxox"))
			defs = append(defs, tcpDef(i))
		}
		s := startChecks(t, Options{Probe: b.probe}, defs...)
		time.Sleep(4500 * time.Millisecond)
		// Five rounds of 1000 flapping checks: 5000 changes, one signal.
		reads := 0
		for {
			select {
			case <-s.Changes():
				reads++
				continue
			default:
			}
			break
		}
		if reads != 1 {
			t.Errorf("%d signals waiting, want 1", reads)
		}
		sts, gen := s.ChangedSince(0)
		if len(sts) != 1000 || gen != 5000 {
			t.Errorf("ChangedSince(0): %d statuses, generation %d; want 1000, 5000", len(sts), gen)
		}
		time.Sleep(time.Second)
		<-s.Changes()
		sts, gen2 := s.ChangedSince(gen)
		if len(sts) != 1000 || gen2 != 6000 {
			t.Errorf("ChangedSince(%d): %d statuses, generation %d; want 1000, 6000", gen, len(sts), gen2)
		}
		if sts, _ := s.ChangedSince(gen2); len(sts) != 0 {
			t.Errorf("ChangedSince(now) returned %d statuses", len(sts))
		}
	})
}

func TestHangingCheckBlocksNoOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.latency[target(1)] = time.Hour
		hang, other := tcpDef(1), tcpDef(2)
		hang.Interval, hang.Timeout = 2*time.Second, 1500*time.Millisecond
		s := startChecks(t, Options{Probe: b.probe}, hang, other)
		time.Sleep(5900 * time.Millisecond)
		st := mustStatus(t, s, hang.Key())
		if st.Health != Down || !errors.Is(st.Last.Err, ErrTimeout) || st.Last.Latency != 1500*time.Millisecond {
			t.Errorf("hanging check: %v, last %v after %v", st.Health, st.Last.Err, st.Last.Latency)
		}
		if n := b.count(target(1)); n != 3 {
			t.Errorf("hanging check tried %d times, want 3", n)
		}
		if n := b.count(target(2)); n != 6 {
			t.Errorf("other check probed %d times in 5.9 s, want 6", n)
		}
	})
}

func TestWarmupSpreadsFirstRounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		var defs []Definition
		for i := range 200 {
			d := tcpDef(i)
			d.Interval, d.Warmup = 10*time.Second, 10*time.Second
			defs = append(defs, d)
		}
		startChecks(t, Options{Probe: b.probe}, defs...)
		time.Sleep(5 * time.Second)
		n := 0
		for i := range 200 {
			n += b.count(target(i))
		}
		// About half start within half the warmup.
		if n < 60 || n > 140 {
			t.Errorf("%d of 200 checks started within half their warmup", n)
		}
		time.Sleep(5 * time.Second)
		for i := range 200 {
			if c := b.count(target(i)); c != 1 {
				t.Fatalf("check %d probed %d times within its warmup and interval, want 1", i, c)
			}
		}
	})
}

func TestDynamicWeightIsAChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		weights := []int{5, 5, 7}
		var n int
		s := NewScheduler(Options{Probe: func(context.Context, *Definition) Outcome {
			w := weights[min(n, len(weights)-1)]
			n++
			return Outcome{Weight: w, HasWeight: true}
		}})
		d := tcpDef(1)
		if err := s.Set([]Definition{d}); err != nil {
			t.Fatal(err)
		}
		defer running(t, s)()
		synctest.Wait()
		<-s.Changes()
		time.Sleep(time.Second)
		synctest.Wait()
		select {
		case <-s.Changes():
			t.Error("a round with the same weight signalled a change")
		default:
		}
		time.Sleep(time.Second)
		synctest.Wait()
		<-s.Changes()
		if st := mustStatus(t, s, d.Key()); !st.HasWeight || st.Weight != 7 || st.Transitions != 1 {
			t.Errorf("status %+v, want weight 7 after one transition", st)
		}
	})
}

func TestMaxInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		var defs []Definition
		for i := range 10 {
			b.latency[target(i)] = 100 * time.Millisecond
			defs = append(defs, tcpDef(i))
		}
		s := startChecks(t, Options{Probe: b.probe, MaxInFlight: 3}, defs...)
		synctest.Wait()
		if n := s.InFlight(); n != 3 {
			t.Errorf("%d in flight, want 3", n)
		}
		time.Sleep(350 * time.Millisecond)
		synctest.Wait()
		done := 0
		for i := range 10 {
			done += b.count(target(i))
		}
		if done != 10 {
			t.Errorf("%d checks started after 350 ms, want all 10 in four waves", done)
		}
	})
}

func TestLastTickMovesWhileIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(Options{})
		if !s.LastTick().IsZero() {
			t.Error("LastTick before Run is not zero")
		}
		defer running(t, s)()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if age := time.Since(s.LastTick()); age > heartbeat {
			t.Errorf("LastTick is %v old with no checks", age)
		}
	})
}

type recorder struct {
	mu      sync.Mutex
	probed  int
	changed []Health
}

func (r *recorder) Probed(Key, Kind, Result) { r.mu.Lock(); r.probed++; r.mu.Unlock() }
func (r *recorder) Changed(st Status) {
	r.mu.Lock()
	r.changed = append(r.changed, st.Health)
	r.mu.Unlock()
}

func TestObserver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBackend()
		b.set(target(1), pattern("ooxxo"))
		rec := &recorder{}
		startChecks(t, Options{Probe: b.probe, Observer: rec}, tcpDef(1))
		time.Sleep(4500 * time.Millisecond)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.probed != 5 || len(rec.changed) != 3 || rec.changed[0] != Up || rec.changed[1] != Down || rec.changed[2] != Up {
			t.Errorf("observer saw %d probes, changes %v; want 5, [up down up]", rec.probed, rec.changed)
		}
	})
}

func TestRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewScheduler(Options{})
		stop := running(t, s)
		synctest.Wait()
		if err := s.Run(context.Background()); err == nil {
			t.Error("a second Run returned nil")
		}
		stop()
	})
}
