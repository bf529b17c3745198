package check

import (
	"errors"
	"strconv"
	"time"
)

// Health is what a check believes of its target.
type Health uint8

// Possible Health values.
const (
	// Unknown is the health of a check before its first round ends.
	Unknown Health = iota
	// Up means the target passed: Rise rounds in a row, or the first.
	Up
	// Down means the target failed: Fall rounds in a row, or the first.
	Down
)

// String returns "unknown", "up" or "down".
func (h Health) String() string {
	switch h {
	case Unknown:
		return "unknown"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "health(" + strconv.Itoa(int(h)) + ")"
}

// Outcome is what one probe attempt found, before the scheduler times it.
type Outcome struct {
	// Err is nil when the target passed, else why it did not.
	Err error
	// Weight is the weight a misc_dynamic command asked for; it counts
	// only when HasWeight is set.
	Weight    int
	HasWeight bool
}

// Result is one probe attempt as the scheduler saw it.
type Result struct {
	// Time is when the attempt started.
	Time time.Time
	// Latency is how long it took.
	Latency time.Duration
	// Attempt is 1 for a round's first attempt, 2 for its first retry, …
	Attempt int
	// Outcome is what the probe found.
	Outcome
}

// OK reports whether the attempt passed.
func (r Result) OK() bool { return r.Err == nil }

// Status is the state of one check, as Scheduler.Status returns it.
type Status struct {
	// Key identifies the check.
	Key Key
	// Kind is the check's kind, for grouping in metrics.
	Kind Kind
	// Health is up, down, or unknown before the first round ends.
	Health Health
	// Weight is the dynamic weight of the last successful round of a
	// misc_dynamic command; it counts only when HasWeight is set. Without
	// it the real server keeps its configured weight.
	Weight    int
	HasWeight bool
	// Last is the last attempt's result; its Time is zero before the
	// first attempt ends.
	Last Result
	// LastSuccess is when the last attempt that passed started.
	LastSuccess time.Time
	// Successes and Failures count the rounds in a row that passed or
	// failed up to now; one of them is zero.
	Successes, Failures int
	// Transitions counts the changes of Health, the first one out of
	// Unknown included; LastTransition is when the last happened.
	Transitions    uint64
	LastTransition time.Time
	// Changed is the scheduler's generation of the last change of Health
	// or Weight (see Scheduler.ChangedSince).
	Changed uint64
}

// Errors that probes wrap; match them with errors.Is.
var (
	// ErrTimeout means the attempt ran out of its Timeout.
	ErrTimeout = errors.New("timed out")
	// ErrRefused means the target refused: a TCP reset, or an ICMP port
	// unreachable to a UDP datagram.
	ErrRefused = errors.New("refused")
	// ErrMismatch means the target answered, but not as expected: an
	// HTTP status or body, a UDP reply, a DNS response, an exit code.
	ErrMismatch = errors.New("unexpected answer")
	// ErrUnsupported means the kind cannot run on this system.
	ErrUnsupported = errors.ErrUnsupported
)
