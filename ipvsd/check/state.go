package check

import (
	"slices"
	"strings"
	"time"
)

// endRound records the end of a round whose last attempt was r, at now,
// moving Health by d's Rise and Fall, and reports whether Health or the
// dynamic weight changed.
func (st *Status) endRound(r Result, d *Definition, now time.Time) (changed bool) {
	if r.OK() {
		st.Successes++
		st.Failures = 0
		if st.Health != Up && (st.Health == Unknown || st.Successes >= d.Rise) {
			st.transition(Up, now)
			changed = true
		}
		if r.HasWeight != st.HasWeight || r.Weight != st.Weight {
			st.Weight, st.HasWeight = r.Weight, r.HasWeight
			changed = true
		}
		return changed
	}
	st.Failures++
	st.Successes = 0
	if st.Health != Down && (st.Health == Unknown || st.Failures >= d.Fall) {
		st.transition(Down, now)
		changed = true
	}
	return changed
}

// transition moves Health to h at now.
func (st *Status) transition(h Health, now time.Time) {
	st.Health = h
	st.Transitions++
	st.LastTransition = now
}

// Changes returns a channel that receives a value after one or more
// checks changed Health or dynamic weight. It holds one value at most,
// so changes coalesce until it is read: a daemon that reads it and then
// the states (ChangedSince) at its own pace never falls behind.
func (s *Scheduler) Changes() <-chan struct{} { return s.changes }

// Status returns the status of the check k, and whether there is one.
func (s *Scheduler) Status(k Key) (Status, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[k]
	if !ok {
		return Status{}, false
	}
	return e.st, true
}

// Statuses returns the status of every check, by Key.
func (s *Scheduler) Statuses() []Status {
	sts, _ := s.ChangedSince(0)
	return sts
}

// ChangedSince returns, by Key, the status of every check whose Health
// or dynamic weight changed after the generation gen (zero: all checks),
// and the generation now, to pass next time.
func (s *Scheduler) ChangedSince(gen uint64) ([]Status, uint64) {
	s.mu.Lock()
	var sts []Status
	for _, e := range s.entries {
		if gen == 0 || e.st.Changed > gen {
			sts = append(sts, e.st)
		}
	}
	now := s.gen
	s.mu.Unlock()
	slices.SortFunc(sts, func(a, b Status) int { return strings.Compare(string(a.Key), string(b.Key)) })
	return sts, now
}

// LastTick returns when the scheduler's loop last ran; it runs at least
// twice a second while Run does, so a LastTick older than a few seconds
// means the scheduler is stuck. It is zero before Run.
func (s *Scheduler) LastTick() time.Time {
	n := s.tick.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// InFlight returns how many attempts are in flight.
func (s *Scheduler) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inFlight
}
