package check

import "time"

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
