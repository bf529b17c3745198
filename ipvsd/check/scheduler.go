package check

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxInFlight bounds the attempts in flight at once when
// Options.MaxInFlight is zero: room for every check of a large director
// to wait out its timeout at once (a UDP check without require_reply
// always does), while a runaway configuration still meets a bound.
const DefaultMaxInFlight = 16384

// heartbeat is the longest the scheduler's loop sleeps, so that LastTick
// moves even when no check is due.
const heartbeat = 500 * time.Millisecond

// quantum is the shortest the loop sleeps when not woken: each tick
// starts every check due by then, so that thousands of checks a second
// cost a tick each millisecond rather than a wake-up each, and start at
// most this late.
const quantum = time.Millisecond

// An Observer hears of every attempt and every change, for metrics. Its
// methods are called from the goroutines of the attempts, concurrently,
// and must return promptly.
type Observer interface {
	// Probed is called after each attempt of the check key.
	Probed(key Key, kind Kind, r Result)
	// Changed is called after a check's Health or dynamic weight changed,
	// with its new status.
	Changed(st Status)
}

// Options configures a Scheduler; the zero value is ready to use.
type Options struct {
	// Probe replaces the real probes when set (tests of a daemon).
	Probe ProbeFunc
	// Observer hears of every attempt and change when set.
	Observer Observer
	// MaxInFlight bounds the attempts in flight at once; a check that is
	// due waits for a slot. Zero means DefaultMaxInFlight.
	MaxInFlight int
}

// A Scheduler runs checks: one probe per distinct Key, each on its own
// schedule, with the state of each kept for its readers. Its methods are
// safe for concurrent use.
type Scheduler struct {
	opts    Options
	changes chan struct{}
	wake    chan struct{}
	jobs    chan func()   // to an idle worker
	stop    chan struct{} // closed when Run ends: workers leave
	tick    atomic.Int64
	wg      sync.WaitGroup

	mu       sync.Mutex
	entries  map[Key]*entry
	queue    dueQueue
	gen      uint64
	inFlight int
	nextWake time.Time
	started  bool
}

// entry is one check in the scheduler, guarded by Scheduler.mu.
type entry struct {
	spec       *spec
	st         Status
	due        time.Time
	wait       time.Duration // from the attempt before to due: what early takes a share of
	index      int           // in the queue, or -1
	attempt    int           // the attempt in flight or next, 0 between rounds
	roundStart time.Time
	cancel     context.CancelFunc
	removed    bool
}

// NewScheduler returns a Scheduler with no checks; Set gives it some and
// Run runs them.
func NewScheduler(opts Options) *Scheduler {
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	return &Scheduler{
		opts:    opts,
		changes: make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
		jobs:    make(chan func()),
		stop:    make(chan struct{}),
		entries: make(map[Key]*entry),
	}
}

// Set makes defs the scheduler's checks, one per distinct Key. Checks
// already running under a Key of defs keep their state and schedule; new
// ones start after their warmup; the others stop, an attempt in flight
// canceled. Every definition is validated first: on an error, which
// names the definition's index and String and wraps its *FieldError,
// nothing changes.
func (s *Scheduler) Set(defs []Definition) error { return s.SetKeyed(defs, nil) }

// SetKeyed is Set for a caller that has keyed the definitions already:
// keys[i] is defs[i].Key(), or keys is nil. A Key costs an encoding and
// a hash of the whole definition, which a reload of many checks would
// otherwise pay twice.
func (s *Scheduler) SetKeyed(defs []Definition, keys []Key) error {
	if keys != nil && len(keys) != len(defs) {
		return fmt.Errorf("check: %d keys for %d definitions", len(keys), len(defs))
	}
	specs := make(map[Key]*spec, len(defs))
	files := newFileCache()
	for i, d := range defs {
		var k Key
		if keys != nil {
			k = keys[i]
		} else {
			k = d.Key()
		}
		if _, ok := specs[k]; ok {
			continue
		}
		sp, err := prepareKeyed(d, k, files)
		if err != nil {
			return fmt.Errorf("check %d (%s): %w", i, d, err)
		}
		specs[k] = sp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.entries {
		if _, ok := specs[k]; !ok {
			e.removed = true
			if e.cancel != nil {
				e.cancel()
			}
			if e.index >= 0 {
				heap.Remove(&s.queue, e.index)
			}
			delete(s.entries, k)
		}
	}
	now := time.Now()
	for k, sp := range specs {
		if e, ok := s.entries[k]; ok {
			// The same check: keep its state, but take the files it names
			// as they are now.
			e.spec = sp
			continue
		}
		e := &entry{spec: sp, st: Status{Key: k, Kind: sp.def.Kind}, index: -1}
		e.due, e.wait = now.Add(warmupDelay(k, sp.def.Warmup)), sp.def.Interval
		s.entries[k] = e
		heap.Push(&s.queue, e)
	}
	s.poke()
	return nil
}

// warmupDelay spreads the first rounds of checks over their warmup by
// their Key, the same on every start.
func warmupDelay(k Key, warmup time.Duration) time.Duration {
	if warmup <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(k))
	return time.Duration(h.Sum64() % uint64(warmup))
}

// Run runs the checks until ctx ends, then cancels the attempts in
// flight and returns once they have ended. It may be called once.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("check: Scheduler.Run called twice")
	}
	s.started = true
	s.mu.Unlock()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		now := time.Now()
		s.tick.Store(now.UnixNano())
		timer.Reset(s.startDue(ctx, now))
		select {
		case <-ctx.Done():
			close(s.stop)
			s.wg.Wait()
			return nil
		case <-timer.C:
		case <-s.wake:
		}
	}
}

// startDue starts the attempts due at now, as many as slots allow, and
// returns how long to sleep until the next.
func (s *Scheduler) startDue(ctx context.Context, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 && s.inFlight < s.opts.MaxInFlight && !s.queue[0].due.After(now.Add(s.queue[0].early())) {
		s.start(ctx, heap.Pop(&s.queue).(*entry), now)
	}
	sleep := heartbeat
	if len(s.queue) > 0 && s.inFlight < s.opts.MaxInFlight {
		sleep = max(quantum, min(sleep, s.queue[0].due.Sub(now)))
	}
	s.nextWake = now.Add(sleep)
	return sleep
}

// early returns how much before its due time e's attempt may start: a
// tick woken for one check starts the others due a little later too, so
// that checks spread over their interval start in batches, one wake-up of
// the loop, the workers and the network poller each, instead of one wake-up
// of each per probe. A round starts at most a twentieth of its interval
// early, and its next is due an interval after that start: the batches
// keep together round after round.
func (e *entry) early() time.Duration {
	return min(maxEarly, e.wait/earlyShare)
}

// maxEarly and earlyShare bound early: the first whatever the wait, the
// second as a share of it.
const (
	maxEarly   = 50 * time.Millisecond
	earlyShare = 20
)

// start starts an attempt of e's check; s.mu is held.
func (s *Scheduler) start(ctx context.Context, e *entry, now time.Time) {
	if e.attempt == 0 {
		e.attempt = 1
		e.roundStart = now
	}
	sp, attempt := e.spec, e.attempt
	pctx, cancel := context.WithTimeout(ctx, sp.def.Timeout)
	e.cancel = cancel
	s.inFlight++
	s.spawn(func() {
		begin := time.Now()
		var out Outcome
		if s.opts.Probe != nil {
			out = s.opts.Probe(pctx, &sp.def)
		} else {
			out = sp.probe(pctx)
		}
		r := Result{Time: begin, Latency: time.Since(begin), Attempt: attempt, Outcome: out}
		// Canceled rather than timed out: the check was removed or the
		// scheduler stops, and the result says nothing of the target.
		canceled := errors.Is(pctx.Err(), context.Canceled)
		cancel()
		s.finish(e, r, canceled)
	})
}

// finish records an attempt's result, schedules what follows, and tells
// the observer and the readers.
func (s *Scheduler) finish(e *entry, r Result, canceled bool) {
	s.mu.Lock()
	saturated := s.inFlight == s.opts.MaxInFlight
	s.inFlight--
	e.cancel = nil
	if e.removed || canceled {
		if saturated {
			s.poke()
		}
		s.mu.Unlock()
		return
	}
	now := time.Now()
	d := &e.spec.def
	e.st.Last = r
	if r.OK() {
		e.st.LastSuccess = r.Time
	}
	changed := false
	if !r.OK() && e.attempt <= d.Retry && e.st.Health != Down {
		e.attempt++
		e.due, e.wait = now.Add(d.RetryDelay), d.RetryDelay
	} else {
		changed = e.st.endRound(r, d, now)
		e.attempt = 0
		e.due, e.wait = e.roundStart.Add(d.Interval), d.Interval
		if e.due.Before(now) {
			e.due = now
		}
	}
	heap.Push(&s.queue, e)
	if saturated || e.due.Before(s.nextWake) {
		s.poke()
	}
	key, st := e.st.Key, Status{}
	if changed {
		s.gen++
		e.st.Changed = s.gen
		st = e.st
	}
	s.mu.Unlock()
	if o := s.opts.Observer; o != nil {
		o.Probed(key, d.Kind, r)
		if changed {
			o.Changed(st)
		}
	}
	if changed {
		select {
		case s.changes <- struct{}{}:
		default:
		}
	}
}

// poke wakes the loop without blocking.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
