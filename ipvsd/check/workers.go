package check

import "time"

// workerIdle is how long a worker waits for another attempt before it
// leaves.
const workerIdle = 10 * time.Second

// spawn runs f on an idle worker, or on a new one. Workers outlive their
// attempt for a while because a new goroutine grows its stack again for
// every probe, which costs more than the probe's own code.
func (s *Scheduler) spawn(f func()) {
	select {
	case s.jobs <- f:
	default:
		s.wg.Add(1)
		go s.worker(f)
	}
}

// worker runs f, then what spawn hands it, until it has been idle for
// workerIdle or Run ends.
func (s *Scheduler) worker(f func()) {
	defer s.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		f()
		idle.Reset(workerIdle)
		select {
		case f = <-s.jobs:
		case <-idle.C:
			return
		case <-s.stop:
			return
		}
	}
}
