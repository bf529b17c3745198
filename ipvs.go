// Package ipvs configures Linux's IP Virtual Server (IPVS), the kernel's
// layer-4 load balancer, through its Generic Netlink family "IPVS".
//
// IPVS forwards connections for a virtual service (an address, protocol
// and port, or a firewall mark) to a set of real servers, the
// destinations, chosen by a scheduler. This package covers every command
// of the kernel's family: services, destinations, timeouts, connection
// synchronization daemons, counters, flush and info.
//
// The shortest use:
//
//	c, err := ipvs.New(nil)
//	if err != nil {
//		return err // errors.Is(err, ipvs.ErrNoIPVS) without ip_vs
//	}
//	defer c.Close()
//	services, err := c.Services(ctx)
//
// For tables of thousands of objects, Apply sends a Batch of writes in a
// few large datagrams with a result per write, and VirtualServers reads
// every service with its destinations.
//
// A Client is safe for concurrent use by many goroutines: each call takes
// a socket of its own from a small pool, and the kernel serializes the
// requests. Every call takes a context whose deadline and cancellation
// end it promptly; the socket of an abandoned request is closed, never
// reused, so a late reply can not answer another request.
//
// IPVS requires CAP_NET_ADMIN in the initial user namespace for every
// command, reads included. Configuration is per network namespace: see
// Config to work in another one than the caller's.
package ipvs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// Config configures a Client. The zero Config (or nil) works in the
// network namespace of the thread that calls New.
type Config struct {
	// NetNS is an open file descriptor of a network namespace to work in,
	// such as one of /proc/PID/ns/net. The Client keeps its own duplicate,
	// so the caller may close it after New. 0 means none.
	NetNS int
	// NetNSPath is the path of a network namespace to work in, such as
	// /var/run/netns/NAME (as made by "ip netns add NAME"). It is used
	// when NetNS is 0.
	NetNSPath string
	// ReplyTimeout is the longest the client waits for the kernel's next
	// datagram when a reply is due, whatever the context allows. The
	// kernel answers at once, so only a lost reply meets it; a dump may
	// take longer as a whole. Zero means DefaultReplyTimeout.
	ReplyTimeout time.Duration
	// ReceiveBufferSize is the size of each socket's buffer for one
	// datagram of replies, which also sets the size of the kernel's dump
	// chunks (up to about 32 KiB). Zero means DefaultReceiveBufferSize; it
	// must be at least 4096.
	ReceiveBufferSize int
}

// DefaultReplyTimeout is the ReplyTimeout of a Config that sets none.
const DefaultReplyTimeout = 10 * time.Second

// maxIdleSockets bounds the sockets a Client keeps open between calls.
// More calls than this at once each open one of their own, and close it
// after.
const maxIdleSockets = 8

// Client is a connection to the kernel's IPVS in one network namespace.
// Create it with New and release it with Close.
type Client struct {
	family       uint16 // the family's ID, resolved at New
	version      uint8
	dial         func() (socket, error)
	replyTimeout time.Duration
	bufSize      int          // of each conn's receive buffer
	release      func() error // releases what dial needs, such as a namespace fd
	ns           *os.File     // the namespace to enter; nil for the caller's own
	nsUsers      sync.WaitGroup

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// New returns a Client for the network namespace cfg names, or the
// caller's. It looks up the IPVS family there; if the kernel has none,
// the error matches ErrNoIPVS and os.ErrNotExist.
func New(cfg *Config) (*Client, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.ReplyTimeout < 0 {
		return nil, &Error{Op: opNew, Err: invalidf("config reply timeout", "%s is negative", cfg.ReplyTimeout)}
	}
	if n := cfg.ReceiveBufferSize; n != 0 && n < 4096 {
		return nil, &Error{Op: opNew, Err: invalidf("config receive buffer size", "%d is less than 4096", n)}
	}
	c, err := newClient(cfg)
	if err != nil {
		return nil, &Error{Op: opNew, Err: err}
	}
	return c, nil
}

// Close closes the Client's sockets. Calls still running end with an
// error once they next touch their socket; later calls fail at once.
func (c *Client) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	c.mu.Unlock()
	var errs []error
	for _, cn := range idle {
		errs = append(errs, cn.sock.close())
	}
	if c.release != nil {
		errs = append(errs, c.release())
		c.release = nil
	}
	return errors.Join(errs...)
}

var errClosed = errors.New("client is closed")

// holdNetNS returns the client's namespace file (nil for the caller's own
// namespace) and keeps Close from releasing it until done is called.
func (c *Client) holdNetNS() (ns *os.File, done func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, errClosed
	}
	c.nsUsers.Add(1)
	return c.ns, c.nsUsers.Done, nil
}

// get takes an idle socket, or opens one.
func (c *Client) get() (*conn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errClosed
	}
	if n := len(c.idle); n > 0 {
		cn := c.idle[n-1]
		c.idle = c.idle[:n-1]
		c.mu.Unlock()
		return cn, nil
	}
	c.mu.Unlock()
	s, err := c.dial()
	if err != nil {
		return nil, err
	}
	return newConn(s, c.replyTimeout, c.bufSize), nil
}

// put returns a socket to the pool, or closes it if it is out of step
// with the kernel or the pool is full.
func (c *Client) put(cn *conn) {
	if !cn.broken {
		c.mu.Lock()
		if !c.closed && len(c.idle) < maxIdleSockets {
			c.idle = append(c.idle, cn)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
	_ = cn.sock.close()
}

// request describes one request: what it is for errors, and how it is
// sent. It carries its operands by value and encodes them by kind, so
// that a call allocates neither closures nor boxed values.
type request struct {
	op    string
	cmd   uint8
	flags uint16
	body  body

	svc      Service
	dst      Destination
	daemon   Daemon
	state    DaemonState
	timeouts Timeouts
}

// body is what a request's attributes are made of.
type body uint8

const (
	bodyNone        body = iota
	bodySvcKey           // SERVICE{identity}
	bodySvc              // SERVICE{everything}
	bodyDest             // SERVICE{identity}, DEST{everything}
	bodyDestKey          // SERVICE{identity}, DEST{identity}
	bodyDaemon           // DAEMON{everything}
	bodyDaemonState      // DAEMON{STATE}
	bodyTimeouts         // the TIMEOUT_* attributes
)

// encode appends the request's attributes.
func (r *request) encode(w *attrWriter) {
	switch r.body {
	case bodySvcKey, bodySvc, bodyDest, bodyDestKey:
		encodeObjects(w, r.body, &r.svc, &r.dst)
	case bodyDaemon:
		r.daemon.encodeNest(w)
	case bodyDaemonState:
		encodeDaemonStateNest(w, r.state)
	case bodyTimeouts:
		r.timeouts.encode(w)
	}
}

// validate checks the request's operands before anything is sent.
func (r *request) validate() error {
	switch r.body {
	case bodySvcKey, bodySvc, bodyDest, bodyDestKey:
		return validateObjects(r.body, &r.svc, &r.dst)
	case bodyDaemon:
		return r.daemon.validate()
	case bodyDaemonState:
		return checkDaemonState(r.state)
	case bodyTimeouts:
		return r.timeouts.validate()
	}
	return nil
}

// validateObjects checks the service and destination of a request of
// body bd; encodeObjects writes them. Batches call them directly.
func validateObjects(bd body, svc *Service, dst *Destination) error {
	switch bd {
	case bodySvc:
		return svc.validate()
	case bodyDest:
		if err := svc.validateKey(); err != nil {
			return err
		}
		return dst.validate(svc)
	case bodyDestKey:
		if err := svc.validateKey(); err != nil {
			return err
		}
		return dst.validateKey()
	}
	return svc.validateKey()
}

func encodeObjects(w *attrWriter, bd body, svc *Service, dst *Destination) {
	switch bd {
	case bodySvc:
		svc.encodeNest(w)
		return
	}
	svc.encodeKeyNest(w)
	switch bd {
	case bodyDest:
		dst.encodeNest(w)
	case bodyDestKey:
		dst.encodeKeyNest(w)
	}
}

// object names what the request applies to, for errors.
func (r *request) object() string {
	switch r.body {
	case bodySvcKey, bodySvc:
		return r.svc.String()
	case bodyDest, bodyDestKey:
		return r.dst.String() + " of " + r.svc.String()
	case bodyDaemon:
		return r.daemon.String()
	case bodyDaemonState:
		return r.state.String()
	}
	return ""
}

func (r *request) wrap(err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: r.op, Object: r.object(), Err: err}
	var ke *nlmsg.KernelError
	if errors.As(err, &ke) {
		e.Err, e.Message = ke.Errno, ke.Message
	}
	return e
}

// Flags of the three kinds of request. Writes ask for an ACK, since a
// successful write gets no reply at all without one. Single gets do not:
// the kernel would send the ACK as a second datagram after the reply.
// Dumps need both bits of NLM_F_DUMP.
const (
	flagsWrite = nlmsg.FlagRequest | nlmsg.FlagAck
	flagsGet   = nlmsg.FlagRequest
	flagsDump  = nlmsg.FlagRequest | nlmsg.FlagDump
)

// exec sends one request and passes each reply message to fn (none for a
// write), on a pooled socket.
func (c *Client) exec(ctx context.Context, r *request, fn func(msg []byte) error) error {
	if err := r.validate(); err != nil {
		return r.wrap(err)
	}
	if err := ctx.Err(); err != nil {
		return r.wrap(err)
	}
	cn, err := c.get()
	if err != nil {
		return r.wrap(err)
	}
	defer c.put(cn)
	cn.begin(ctx)
	defer cn.end()
	if err := cn.send(ctx, c.family, c.version, r); err != nil {
		return r.wrap(err)
	}
	var fnErr error
	for {
		msg, err := cn.next(ctx)
		if errors.Is(err, io.EOF) {
			return r.wrap(fnErr)
		}
		if err != nil {
			return r.wrap(err)
		}
		if fn == nil {
			cn.broken = true
			return r.wrap(fmt.Errorf("unexpected reply message to command %d", r.cmd))
		}
		// Keep reading after a decoding error so that the socket stays in
		// step; report the first one.
		if err := fn(msg); err != nil && fnErr == nil {
			fnErr = err
		}
	}
}

// dump runs a dump request and yields each decoded object as its message
// arrives. Breaking out of the loop closes the socket, since the rest of
// the dump is still on its way.
func dump[T any](c *Client, ctx context.Context, r request, decode func(msg []byte, v *T) error) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		fail := func(err error) { yield(zero, r.wrap(err)) }
		if err := r.validate(); err != nil {
			fail(err)
			return
		}
		if err := ctx.Err(); err != nil {
			fail(err)
			return
		}
		cn, err := c.get()
		if err != nil {
			fail(err)
			return
		}
		defer c.put(cn)
		cn.begin(ctx)
		defer cn.end()
		if err := cn.send(ctx, c.family, c.version, &r); err != nil {
			fail(err)
			return
		}
		for {
			msg, err := cn.next(ctx)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				fail(err)
				return
			}
			var v T
			if err := decode(msg, &v); err != nil {
				cn.broken = true
				fail(fmt.Errorf("decode reply: %w", err))
				return
			}
			if !yield(v, nil) {
				cn.broken = true
				return
			}
		}
	}
}

// collect gathers a dump into a slice; an empty dump is an empty slice.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	out := []T{}
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// get runs a single get, whose reply is one message.
func get[T any](c *Client, ctx context.Context, r *request, decode func(msg []byte, v *T) error) (T, error) {
	var v T
	got := false
	err := c.exec(ctx, r, func(msg []byte) error {
		got = true
		return decode(msg, &v)
	})
	if err == nil && !got {
		err = r.wrap(errNoReply)
	}
	return v, err
}

// Info returns the kernel's IPVS version and connection table size.
func (c *Client) Info(ctx context.Context) (Info, error) {
	return get(c, ctx, &request{op: opInfo, cmd: ipvsh.CmdGetInfo, flags: flagsGet}, decodeInfoMessage)
}

// Timeouts returns the connection timeouts of the namespace.
func (c *Client) Timeouts(ctx context.Context) (Timeouts, error) {
	return get(c, ctx, &request{op: opTimeouts, cmd: ipvsh.CmdGetConfig, flags: flagsGet}, decodeTimeoutsMessage)
}

// SetTimeouts sets the connection timeouts of the namespace; zero fields
// are left unchanged. Each must be a whole number of seconds.
func (c *Client) SetTimeouts(ctx context.Context, t Timeouts) error {
	return c.exec(ctx, &request{op: opSetTimeouts, cmd: ipvsh.CmdSetConfig, flags: flagsWrite, body: bodyTimeouts, timeouts: t}, nil)
}

// Flush removes every service, with its destinations, from the namespace.
func (c *Client) Flush(ctx context.Context) error {
	return c.exec(ctx, &request{op: opFlush, cmd: ipvsh.CmdFlush, flags: flagsWrite}, nil)
}

// ZeroStats zeroes the counters of every service and destination of the
// namespace, and the namespace's totals.
func (c *Client) ZeroStats(ctx context.Context) error {
	return c.exec(ctx, &request{op: opZero, cmd: ipvsh.CmdZero, flags: flagsWrite}, nil)
}

// ZeroServiceStats zeroes the counters of one service and of its
// destinations. If the service does not exist, the error matches
// os.ErrNotExist.
func (c *Client) ZeroServiceStats(ctx context.Context, svc Service) error {
	return c.exec(ctx, &request{op: opZero, cmd: ipvsh.CmdZero, flags: flagsWrite, body: bodySvcKey, svc: svc}, nil)
}

var errNoReply = errors.New("the kernel sent no reply message")
