// Package check probes real servers for ipvsd: TCP connects, HTTP and
// HTTPS GETs, UDP exchanges, DNS queries and commands, each on a schedule
// with keepalived's timing words (interval, timeout, rise and fall, retry
// and delay before retry, warmup).
//
// A Definition says what to probe and how often; its Key identifies it.
// A Scheduler runs one probe per distinct Key however many virtual
// servers share the real server, keeps the state of each (up or down,
// the dynamic weight of a misc_dynamic command, the last result,
// transitions), and tells its owner that something changed through a
// channel that coalesces: a daemon that reads the states at its own pace
// writes at most once per sync, however many checks flap.
//
// Scheduler.Set replaces the set of definitions: those whose Key is
// unchanged keep their state, new ones start, removed ones stop.
// Scheduler.LastTick tells a liveness probe whether the scheduler's loop
// still turns.
//
// # Semantics
//
// A round is one attempt, then up to Retry more after RetryDelay each
// while the check is not down (as keepalived retries only a server it
// believes alive). A round succeeds when one of its attempts does. Rise
// successful rounds in a row bring a down check up and Fall failed
// rounds in a row take an up check down; a check starts Unknown, and its
// first round decides. Rounds begin Interval apart, the first one after
// a delay between zero and Warmup that depends on the Key alone, so that
// checks defined together spread over the warmup and keep their spacing,
// but for this: an attempt may start up to a twentieth of its wait (the
// Interval, or RetryDelay), at most 50ms, before it is due, with one that
// is due, so that checks due close together start together and cost the
// daemon one wake-up. Each attempt ends at Timeout.
package check
