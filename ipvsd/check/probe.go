package check

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// ProbeFunc runs one attempt of the check d and says what it found. The
// context ends at the attempt's timeout, or sooner when the check is
// removed or the scheduler stops; a ProbeFunc must return promptly then.
// Options.Probe takes one to replace the real probes, as tests of a
// daemon do to play backends that fail on cue.
type ProbeFunc func(ctx context.Context, d *Definition) Outcome

// Probe runs one attempt of the check d, as the Scheduler does, and
// returns what it found; ctx bounds it and d.Timeout too. It is for
// one-off checks (a command line's "check now"); a check that repeats
// belongs in a Scheduler, which prepares d once.
func Probe(ctx context.Context, d Definition) Outcome {
	s, err := prepare(d)
	if err != nil {
		return Outcome{Err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, s.def.Timeout)
	defer cancel()
	return s.probe(ctx)
}

// probe runs one attempt of s's check within ctx.
func (s *spec) probe(ctx context.Context) Outcome {
	switch s.def.Kind {
	case KindTCP:
		return s.probeTCP(ctx)
	case KindHTTP, KindHTTPS:
		return s.probeHTTP(ctx)
	case KindUDP:
		return s.probeUDP(ctx)
	case KindDNS:
		return s.probeDNS(ctx)
	case KindExec:
		return s.probeExec(ctx)
	}
	return Outcome{Err: ErrUnsupported}
}

// probeTCP connects and closes.
func (s *spec) probeTCP(ctx context.Context) Outcome {
	c, err := s.dial(ctx, "tcp")
	if err != nil {
		return Outcome{Err: err}
	}
	closeTCP(c)
	return Outcome{}
}

// dial connects to the target from the source, with the mark, within
// ctx. Its error is a probe error of the operation "connect".
func (s *spec) dial(ctx context.Context, network string) (net.Conn, error) {
	// No TCP keep-alive: a probe's connection lives for one exchange, and
	// turning it on costs three system calls per probe.
	d := net.Dialer{KeepAlive: -1}
	if s.def.Mark != 0 {
		d.Control = s.control
	}
	if s.def.Source.IsValid() {
		ip := net.IP(s.def.Source.AsSlice())
		if network == "tcp" {
			d.LocalAddr = &net.TCPAddr{IP: ip}
		} else {
			d.LocalAddr = &net.UDPAddr{IP: ip}
		}
	}
	c, err := d.DialContext(ctx, network, s.def.Target.String())
	if err != nil {
		return nil, probeErr(ctx, "connect", err)
	}
	return c, nil
}

// connect dials as dial does and binds the connection's I/O to ctx;
// release closes it.
func (s *spec) connect(ctx context.Context, network string) (c net.Conn, release func(), err error) {
	c, err = s.dial(ctx, network)
	if err != nil {
		return nil, nil, err
	}
	stop := bindConn(ctx, c)
	return c, func() { stop(); closeTCP(c) }, nil
}

// control sets the socket options of a probe's socket before it
// connects: the firewall mark.
func (s *spec) control(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setMark(fd, s.def.Mark) }); err != nil {
		return err
	}
	return serr
}

// closeTCP closes a probe's connection, a TCP one with a reset, so that the
// director keeps no TIME_WAIT socket per probe: at thousands of probes a
// second those would pass the kernel's tcp_max_tw_buckets within a
// minute.
func closeTCP(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// bindConn makes c's I/O end at ctx's deadline, and at once when ctx is
// canceled; the returned stop undoes the latter.
func bindConn(ctx context.Context, c net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}

// probeError is a probe's failure: the operation, its class (one of the
// package's Err values, or nil) and the cause.
type probeError struct {
	op    string
	class error
	err   error
}

// Error returns "OP: CLASS" for a timeout or a refusal, else "OP: CAUSE".
func (e *probeError) Error() string {
	switch {
	case e.class == ErrTimeout || e.class == ErrRefused || e.err == nil:
		return e.op + ": " + e.class.Error()
	}
	return e.op + ": " + e.err.Error()
}

// Unwrap returns the class and the cause, for errors.Is.
func (e *probeError) Unwrap() []error {
	if e.err == nil {
		return []error{e.class}
	}
	if e.class == nil {
		return []error{e.err}
	}
	return []error{e.class, e.err}
}

// probeErr classifies err, which the operation op met within ctx: a
// deadline is ErrTimeout, ECONNREFUSED is ErrRefused. A *net.OpError is
// shortened to its cause, as the check already names the target.
func probeErr(ctx context.Context, op string, err error) error {
	var class error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return &probeError{op: op, err: context.Canceled}
	case expired(ctx), errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		class = ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		class = ErrRefused
	}
	cause := err
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		cause = oe.Err
		var se *os.SyscallError
		if errors.As(cause, &se) {
			cause = se.Err
		}
	}
	return &probeError{op: op, class: class, err: cause}
}

// expired reports whether ctx's deadline has come, even if ctx has not
// noticed yet: a socket's deadline, set to the same instant, may fire
// first, and a reader may make a partial line of what came before.
func expired(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

// readErr classifies an error met reading an answer: a deadline, a
// cancellation or a socket's error as probeErr does, anything else (the
// parser's) as a mismatch.
func readErr(ctx context.Context, op string, err error) error {
	var ne net.Error
	if ctx.Err() != nil || expired(ctx) || errors.As(err, &ne) {
		return probeErr(ctx, op, err)
	}
	return mismatch(op, err.Error())
}

// mismatch is a probe's failure of the class ErrMismatch.
func mismatch(op, text string) error {
	return &probeError{op: op, class: ErrMismatch, err: errors.New(text)}
}
