package ipvs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// conn is one socket with what an exchange on it needs: its buffers, its
// sequence numbers and the reader of its replies. It serves one call at a
// time; the Client's pool hands it out.
type conn struct {
	sock  seam.Socket
	seq   uint32
	buf   []byte // the receive buffer
	req   []byte // the request buffer, reused
	rd    nlmsg.Reader
	dirty bool // out of step with the kernel, or its deadline is not ours: never reuse it
	pool  pool // the pool it returns to

	replyTimeout time.Duration
	closed       *atomic.Bool // the Client's

	// Of the current exchange only: set by begin, cleared by end.
	ctx    context.Context
	armed  time.Time   // the deadline set on the socket
	unhook func() bool // undoes the context's wake-up, once registered
}

func newConn(s seam.Socket, replyTimeout time.Duration, bufSize int, closed *atomic.Bool) *conn {
	cn := &conn{sock: s, buf: make([]byte, bufSize), seq: uint32(time.Now().UnixNano()), replyTimeout: replyTimeout, closed: closed}
	cn.rd.Init(cn.recv, cn.buf, s.PortID())
	return cn
}

// exchange sends the datagram b, which holds the requests numbered first
// to last, and reads the kernel's answer to them: each data message, and
// each NLMSG_ERROR for a request before the last, goes to each; the answer
// to the last request ends the exchange. typ is the family ID of the data
// messages, and ack whether the last request asked for an ACK.
//
// It is the one path every request takes: writes, single gets, dumps and
// the datagrams of a batch. It returns a *nlmsg.KernelError when the
// kernel refused the last request, an error of each's, or an error of the
// socket or the context. ctx is consulted before every datagram is sent
// or read, so it ends even a dump whose datagrams are always ready.
func (cn *conn) exchange(ctx context.Context, b []byte, first, last uint32, typ uint16, ack bool, each func(h nlmsg.Header, msg []byte) error) error {
	cn.begin(ctx)
	defer cn.end()
	if err := cn.send(b); err != nil {
		return &notSentError{cn.fail(err)}
	}
	cn.rd.Reset(first, last, typ, ack)
	for {
		h, msg, err := cn.rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return cn.fail(err)
		}
		if each == nil {
			cn.dirty = true
			return fmt.Errorf("unexpected reply message of type %d to a request that expects none", h.Type)
		}
		if err := each(h, msg); err != nil {
			// The rest of the reply is still on its way.
			cn.dirty = true
			return err
		}
	}
}

// notSentError is the error of an exchange whose request never left.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// errStop ends an exchange whose caller wants no more messages, such as
// an iterator left early.
var errStop = errors.New("stop")

// next numbers a request: it returns the sequence number to give it.
func (cn *conn) next() uint32 {
	cn.seq++
	return cn.seq
}

// begin ties the socket's I/O to ctx for one exchange; end undoes it.
func (cn *conn) begin(ctx context.Context) { cn.ctx = ctx }

// end undoes begin. If the context's wake-up already ran, or is running,
// it may still move the deadline, so the socket is not reused.
func (cn *conn) end() {
	if cn.unhook != nil && !cn.unhook() {
		cn.dirty = true
	}
	cn.unhook, cn.ctx = nil, nil
}

// errReplyTimeout means the kernel sent nothing for replyTimeout while a
// reply was due: it never fails to answer a request that asks for one, so
// the socket is out of step. It matches os.ErrDeadlineExceeded.
var errReplyTimeout = fmt.Errorf("no reply from the kernel in time: %w", os.ErrDeadlineExceeded)

// errClosed is the error of a call on, or ended by, a closed Client.
var errClosed = fmt.Errorf("client is closed: %w", net.ErrClosed)

// check returns why the exchange must stop now: the client closed, or
// the context ended. Both are checked before every datagram.
func (cn *conn) check() error {
	if cn.closed.Load() {
		return errClosed
	}
	return cn.ctx.Err()
}

// send writes one datagram. The kernel handles a request within the write
// and never makes it wait, so it goes straight to the socket; only if it
// would wait after all is a deadline armed.
func (cn *conn) send(b []byte) error {
	if err := cn.check(); err != nil {
		return err
	}
	if err := cn.sock.Send(b, false); !errors.Is(err, seam.ErrWouldBlock) {
		return err
	}
	if _, err := cn.arm(); err != nil {
		return err
	}
	return cn.sock.Send(b, true)
}

// recv reads one datagram for the reader, waiting at most replyTimeout
// for it, so that a lost reply can not hang a call whose context has no
// deadline, while a long dump may take as long as it needs.
//
// The kernel queues its answer to a request within the write that sends
// it, and builds the next chunk of a dump within the read that asks for
// it, so a datagram is nearly always there: recv first reads without
// waiting, and arms a deadline only when it must wait.
func (cn *conn) recv(b []byte) (int, error) {
	if err := cn.check(); err != nil {
		return 0, err
	}
	if n, err := cn.sock.Recv(b, false); !errors.Is(err, seam.ErrWouldBlock) {
		return n, err
	}
	rolling, err := cn.arm()
	if err != nil {
		return 0, err
	}
	n, err := cn.sock.Recv(b, true)
	if errors.Is(err, os.ErrDeadlineExceeded) && rolling && cn.check() == nil {
		return 0, errReplyTimeout
	}
	return n, err
}

// arm bounds a wait: by the context's deadline when it comes before a
// reply would be overdue, else by a rolling deadline ReplyTimeout ahead.
// It also has the context's cancellation, and Close, wake the wait. A
// rolling deadline is re-armed only when less than half of it is left,
// since setting one costs a timer update. It reports whether the
// deadline is the rolling one.
func (cn *conn) arm() (rolling bool, err error) {
	if cn.unhook == nil && cn.ctx.Done() != nil {
		s := cn.sock
		cn.unhook = context.AfterFunc(cn.ctx, func() { _ = s.SetDeadline(time.Unix(1, 0)) })
	}
	now := time.Now()
	want, ok := cn.ctx.Deadline()
	rolling = !ok || want.After(now.Add(cn.replyTimeout))
	switch {
	case rolling && cn.armed.After(now.Add(cn.replyTimeout/2)):
		return true, cn.check()
	case rolling:
		want = now.Add(cn.replyTimeout)
	case want.Equal(cn.armed):
		return false, cn.check()
	}
	if err := cn.sock.SetDeadline(want); err != nil {
		cn.dirty = true
		return rolling, err
	}
	cn.armed = want
	// The wake-up may have set its past deadline before the line above
	// replaced it; once ctx is done, it has run or runs after this check.
	return rolling, cn.check()
}

// fail turns an error that ended an exchange into what the caller
// reports, and marks the socket dirty unless the kernel ended the reply
// cleanly with an error of its own.
func (cn *conn) fail(err error) error {
	var ke *nlmsg.KernelError
	if errors.As(err, &ke) {
		return err
	}
	cn.dirty = true
	if cn.closed.Load() {
		return errClosed
	}
	if errors.Is(err, nlmsg.ErrDumpInterrupted) {
		return ErrDumpInterrupted
	}
	if cerr := cn.ctx.Err(); cerr != nil && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, cerr)) {
		return cerr
	}
	if dl, ok := cn.ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return err
}

// quiet reports whether nothing is queued on the socket, which must hold
// before it serves another call: a stray datagram would fail that call.
func (cn *conn) quiet() bool {
	_, err := cn.sock.Recv(cn.buf, false)
	return errors.Is(err, seam.ErrWouldBlock)
}
