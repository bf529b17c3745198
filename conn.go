package ipvs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// socket is one netlink socket, bound to the network namespace the
// client works in. conn_linux.go has the real one; the tests have one in
// memory (kernel_test.go), which runs the same code below against a fake
// kernel.
type socket interface {
	// write sends one datagram of one or more netlink messages.
	write(b []byte) error
	// writeNow is write without waiting: errWouldBlock if it would wait.
	writeNow(b []byte) error
	// read receives one datagram into b and returns its full length,
	// which exceeds len(b) when it was truncated.
	read(b []byte) (int, error)
	// readNow is read without waiting: errWouldBlock if nothing is queued.
	readNow(b []byte) (int, error)
	// setDeadline bounds write and read; the zero time removes the bound.
	setDeadline(t time.Time) error
	// portID is the socket's netlink port ID, which replies carry.
	portID() uint32
	// buffers returns the sizes of the socket's send and receive buffers,
	// which bound the datagrams of Client.Apply and AllVirtualServers.
	buffers() (send, receive int)
	close() error
}

// DefaultReceiveBufferSize is the ReceiveBufferSize of a Config that sets
// none. The kernel sizes dump chunks from the largest buffer a socket has
// read with, up to about 32 KiB, and each chunk of a service dump walks
// the table from its start again, so a small buffer makes a large dump
// quadratic; 64 KiB holds the largest chunk with room to spare.
const DefaultReceiveBufferSize = 64 << 10

// conn is a socket with the state of the request it is serving.
type conn struct {
	sock   socket
	seq    uint32
	buf    []byte // receive buffer
	req    []byte // request buffer, reused
	rd     nlmsg.Reader
	broken bool // out of step with the kernel: close it, never reuse it

	replyTimeout time.Duration   // longest wait for one datagram
	armed        time.Time       // the deadline set on the socket
	ctx          context.Context // of the current call
	stopCancel   func() bool     // undoes the context hook of the current call
}

func newConn(s socket, replyTimeout time.Duration, bufSize int) *conn {
	c := &conn{sock: s, buf: make([]byte, bufSize), seq: uint32(time.Now().UnixNano()), replyTimeout: replyTimeout}
	c.rd = *nlmsg.NewReader(c.recv, c.buf, 0, s.portID(), false)
	return c
}

// begin ties the socket's I/O to ctx: arm applies its deadline when the
// I/O must wait, and its cancellation sets a deadline in the past, which
// wakes a blocked read at once. end must follow.
func (c *conn) begin(ctx context.Context) {
	c.ctx = ctx
	if ctx.Done() != nil { // a context that can be cancelled
		c.stopCancel = context.AfterFunc(ctx, func() { _ = c.sock.setDeadline(time.Unix(1, 0)) })
	}
}

// end undoes begin. If the cancellation hook already ran, or is running,
// it may still move the deadline, so the socket is not reused.
func (c *conn) end() {
	if c.stopCancel != nil && !c.stopCancel() {
		c.broken = true
	}
	c.stopCancel, c.ctx = nil, nil
}

// errReplyTimeout means the kernel sent nothing for replyTimeout while a
// reply was due: it never fails to answer a request that asks for one, so
// the socket is out of step.
var errReplyTimeout = errors.New("no reply from the kernel in time")

// arm bounds the socket's next I/O: by the context's deadline when it
// comes before a reply would be overdue, else by a rolling deadline
// ReplyTimeout ahead. The kernel answers within the write of a request,
// so the rolling one is a safety net, and it is re-armed only when less
// than half of it is left: setting a deadline costs a timer update, which
// would otherwise be paid on every datagram. A lost reply is therefore
// noticed after between half of ReplyTimeout and all of it. It reports
// whether the deadline is the rolling one.
func (c *conn) arm() (rolling bool, err error) {
	now := time.Now()
	want, ok := c.ctx.Deadline()
	rolling = !ok || want.After(now.Add(c.replyTimeout))
	if rolling {
		if c.armed.After(now.Add(c.replyTimeout / 2)) {
			return true, nil
		}
		want = now.Add(c.replyTimeout)
	} else if want.Equal(c.armed) {
		return false, nil
	}
	if err := c.sock.setDeadline(want); err != nil {
		c.broken = true
		return rolling, err
	}
	c.armed = want
	// The cancellation hook may have set its past deadline before the line
	// above replaced it; once ctx is done, the hook has run or will run
	// after this check, so checking here closes the race.
	return rolling, c.ctx.Err()
}

// errWouldBlock is readNow's answer when no datagram is queued.
var errWouldBlock = errors.New("no datagram queued")

// recv reads one datagram, waiting at most replyTimeout for it, so that a
// lost reply can not hang a call whose context has no deadline, while a
// long dump may take as long as it needs.
//
// The kernel queues its answer to a request within the write that sends
// it, and builds the next chunk of a dump within the read that asks for
// it, so a datagram is nearly always there: recv first reads without
// waiting, and arms a deadline only when it must wait.
func (c *conn) recv(b []byte) (int, error) {
	if n, err := c.sock.readNow(b); !errors.Is(err, errWouldBlock) {
		return n, err
	}
	rolling, err := c.arm()
	if err != nil {
		return 0, err
	}
	n, err := c.sock.read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) && rolling && c.ctx.Err() == nil {
		return 0, errReplyTimeout
	}
	return n, err
}

// write sends one datagram. The kernel handles a request within the
// write and never makes it wait, so it goes straight to the socket; only
// if it would wait after all is a deadline armed.
func (c *conn) write(b []byte) error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if err := c.sock.writeNow(b); !errors.Is(err, errWouldBlock) {
		return err
	}
	if _, err := c.arm(); err != nil {
		return err
	}
	return c.sock.write(b)
}

// ctxErr turns an I/O error caused by ctx into ctx's error, and marks the
// socket broken when the request may have been left half done.
func (c *conn) ctxErr(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return err
	}
	var ke *nlmsg.KernelError
	if errors.As(err, &ke) {
		// A kernel error ends the reply cleanly.
		return err
	}
	c.broken = true
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			return context.DeadlineExceeded
		}
	}
	return err
}

// send frames one request and writes it, and readies the reader for its
// replies.
func (c *conn) send(ctx context.Context, family uint16, version uint8, r *request) error {
	c.seq++
	var off int
	c.req, off = nlmsg.StartRequest(c.req[:0], family, r.flags, c.seq, r.cmd, version)
	w := attrWriter{b: c.req}
	r.encode(&w)
	c.req = nlmsg.FinishRequest(w.b, off)
	c.rd.Reset(c.seq, r.flags&nlmsg.FlagAck != 0)
	return c.ctxErr(ctx, c.write(c.req))
}

// recvDatagram reads one datagram of replies, for callers that parse
// them themselves; it aliases the receive buffer.
func (c *conn) recvDatagram(ctx context.Context) ([]byte, error) {
	n, err := c.recv(c.buf)
	if err != nil {
		return nil, c.ctxErr(ctx, err)
	}
	if n > len(c.buf) {
		c.broken = true
		return nil, fmt.Errorf("netlink datagram of %d bytes truncated to the %d-byte receive buffer", n, len(c.buf))
	}
	return c.buf[:n], nil
}

// next returns the next reply message of the current request, or io.EOF.
func (c *conn) next(ctx context.Context) ([]byte, error) {
	_, p, err := c.rd.Next()
	return p, c.ctxErr(ctx, err)
}
