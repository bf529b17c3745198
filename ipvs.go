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
// # Identity
//
// Service.Key is what identifies a service to the kernel, as a comparable
// ServiceKey, and Destination.Key a destination within its service.
// Canonical returns a service or a destination as the kernel reads it
// back, and Validate checks one as the client does before sending it, so
// that a program can refuse bad input before its first change. Every
// method that names an object uses the same identity: an IPv4-mapped
// address (::ffff:10.0.0.1) with a zero Family is IPv4, and a destination
// Port of 0 in a service that is not a fwmark service is the service's.
//
// # Calls
//
// A Client is safe for concurrent use by many goroutines: each call takes
// a socket of its own from a small pool, and the kernel serializes the
// requests. Every call takes a context, which must not be nil (as in the
// standard library, a nil context is a programmer error, and panics). The
// context is consulted before every datagram a call sends or reads, so its
// end stops even a dump whose replies never pause; the socket of a call
// ended early is closed, never reused, so a late reply can not answer
// another request. A reply that never comes ends the call after
// Config.ReplyTimeout, even without a deadline.
//
// # Errors
//
// Every error of a call is an *Error, with the operation and the object,
// wrapping its cause. Callers match causes with errors.Is:
//   - os.ErrNotExist: no such service (ESRCH), destination, scheduler or
//     persistence engine (ENOENT), or interface (ENODEV);
//   - os.ErrExist: the object exists (EEXIST);
//   - os.ErrPermission: the process lacks CAP_NET_ADMIN (EPERM);
//   - os.ErrInvalid: the client refused input before sending it (an
//     *InvalidError names the field and the value);
//   - the errno itself, such as syscall.EINVAL;
//   - ErrNoIPVS (also os.ErrNotExist): the kernel has no IPVS family;
//   - ErrDumpInterrupted: the kernel marked a dump as interrupted;
//   - net.ErrClosed: the Client was closed before or during the call;
//   - os.ErrDeadlineExceeded: no reply came within Config.ReplyTimeout;
//   - context.Canceled, context.DeadlineExceeded: the call's context ended;
//   - ErrNotSent, ErrOutcomeUnknown: per write of a batch, see Apply;
//     Apply's error is a *BatchError when any write failed.
//
// IPVS requires CAP_NET_ADMIN in the initial user namespace for every
// command, reads included, and nothing more. Configuration is per network
// namespace: see Config to work in another one than the caller's, which
// also needs CAP_SYS_ADMIN.
//
// # Beyond this package
//
//   - Package github.com/ipvs-go/ipvs/reconcile converges a namespace's
//     table to a desired one, in one read and one batch, draining the
//     destinations that are no longer wanted.
//   - Package github.com/ipvs-go/ipvs/ipvstest tests code that uses this
//     one: an in-memory IPVS behind a real Client, and a Client of the
//     kernel in a fresh network namespace.
//   - github.com/ipvs-go/ipvs/cmd/ipvsctl is ipvsadm's command line on this
//     package, with a restore that is a diff, JSON and YAML.
//   - github.com/ipvs-go/ipvs/exporter is a Prometheus collector and the
//     ipvs_exporter server.
package ipvs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
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
	// must be at least 4096. Destination dumps do not use it: they read a
	// page at a time (see Destinations).
	ReceiveBufferSize int
}

// DefaultReplyTimeout is the ReplyTimeout of a Config that sets none.
const DefaultReplyTimeout = 10 * time.Second

// DefaultReceiveBufferSize is the ReceiveBufferSize of a Config that sets
// none. The kernel sizes dump chunks from the largest buffer a socket has
// read with, up to about 32 KiB, and each chunk of a service dump walks
// the table from its start again, so a small buffer makes a large dump
// quadratic; 64 KiB holds the largest chunk with room to spare.
const DefaultReceiveBufferSize = 64 << 10

// maxIdleSockets bounds the sockets of each pool a Client keeps open
// between calls. More calls than this at once each open one of their
// own, and close it after.
const maxIdleSockets = 8

// A pool is a class of sockets, told apart by the size of the reads
// they make: the kernel sizes each dump chunk from the largest read a
// socket has ever made, so a socket's reads can not shrink once grown.
type pool uint8

const (
	// poolDefault sockets read with Config.ReceiveBufferSize.
	poolDefault pool = iota
	// poolPaged sockets read a page at a time; they serve destination
	// dumps. A service has few destinations, usually a chunk's worth,
	// and for each dump the kernel allocates a chunk twice (its data,
	// then its end), at the size of the socket's largest read, so a
	// page costs it least. A service with thousands of destinations pays
	// a system call per page instead.
	poolPaged
	numPools
)

// pagedBufferSize is the read size of poolPaged sockets: a page, and
// never more than 8 KiB, the most the kernel puts in a chunk (its
// NLMSG_GOODSIZE) when a socket's reads are smaller.
var pagedBufferSize = min(os.Getpagesize(), 8<<10)

// Client is a connection to the kernel's IPVS in one network namespace.
// Create it with New and release it with Close.
type Client struct {
	family atomic.Uint32 // the family's ID and version; see currentFamily
	dial   func() (seam.Socket, error)
	proc   seam.Proc // nil for a client without procfs
	// dialConntrack dials the netfilter sockets of FlushConntrack; nil
	// for a client of an in-memory kernel.
	dialConntrack func() (seam.Socket, error)
	replyTimeout  time.Duration
	bufSize       [numPools]int // of each pool's receive buffers
	releaseNS     func() error  // releases the namespace the client holds, if any
	closed        atomic.Bool

	mu    sync.Mutex
	idle  [numPools][]*conn
	live  map[*conn]struct{} // every open conn, idle or busy, for Close
	users sync.WaitGroup     // dials and other uses of ns in progress
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

// newClientWith assembles a Client over dial, with the defaults of cfg.
func newClientWith(cfg *Config, dial func() (seam.Socket, error), f genlFamily) *Client {
	c := &Client{dial: dial, replyTimeout: cfg.ReplyTimeout, live: map[*conn]struct{}{}, releaseNS: func() error { return nil }}
	if c.replyTimeout == 0 {
		c.replyTimeout = DefaultReplyTimeout
	}
	c.bufSize[poolDefault] = cfg.ReceiveBufferSize
	if c.bufSize[poolDefault] == 0 {
		c.bufSize[poolDefault] = DefaultReceiveBufferSize
	}
	c.bufSize[poolPaged] = min(pagedBufferSize, c.bufSize[poolDefault])
	c.setFamily(f)
	return c
}

func init() {
	seam.NewClient = func(dial func() (seam.Socket, error), proc seam.Proc, id uint16, version uint8) (any, error) {
		c := newClientWith(&Config{}, dial, genlFamily{id: id, version: version})
		c.proc = proc
		if proc == nil {
			// No procfs to tell the namespace: conntrack's sockets are
			// dialled in the caller's.
			c.dialConntrack = dialNetfilter
		}
		return c, nil
	}
}

// Close closes the Client. Calls in flight end at once with an error
// matching net.ErrClosed: their sockets are closed under them, whether
// they wait for the kernel or are reading a dump, and a write whose
// answer was not yet read may or may not have been applied. Later calls
// fail the same way. The namespace handle is released once no call can
// dial with it any more. Close may be called more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed.Swap(true) {
		c.mu.Unlock()
		return nil
	}
	live := c.live
	c.idle, c.live = [numPools][]*conn{}, nil
	c.mu.Unlock()
	var errs []error
	for cn := range live {
		errs = append(errs, cn.sock.Close())
	}
	c.users.Wait()
	errs = append(errs, c.releaseNS())
	return errors.Join(errs...)
}

// acquire takes an idle socket of the default pool, or dials one.
func (c *Client) acquire() (*conn, error) { return c.acquireFrom(poolDefault) }

// acquireFrom takes an idle socket of pool p, or dials one.
func (c *Client) acquireFrom(p pool) (*conn, error) {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return nil, errClosed
	}
	if n := len(c.idle[p]); n > 0 {
		cn := c.idle[p][n-1]
		c.idle[p] = c.idle[p][:n-1]
		c.mu.Unlock()
		return cn, nil
	}
	// Close waits for the dial, so the namespace it uses stays open.
	c.users.Add(1)
	c.mu.Unlock()
	defer c.users.Done()
	s, err := c.dial()
	if err != nil {
		return nil, err
	}
	cn := newConn(s, c.replyTimeout, c.bufSize[p], &c.closed)
	cn.pool = p
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		_ = s.Close()
		return nil, errClosed
	}
	c.live[cn] = struct{}{}
	return cn, nil
}

// release returns a socket to the pool, or closes it: if it is out of
// step with the kernel, if anything is queued on it that no call asked
// for, or if the pool is full. Only a reply that ended without a
// terminator (a single get's) can be followed by a stray datagram: the
// kernel sends a write's ACK and a dump's DONE last, so only then does
// release spend a system call to look.
func (c *Client) release(cn *conn) {
	if !cn.dirty && (cn.rd.Terminated() || cn.quiet()) {
		c.mu.Lock()
		if !c.closed.Load() && len(c.idle[cn.pool]) < maxIdleSockets {
			c.idle[cn.pool] = append(c.idle[cn.pool], cn)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	delete(c.live, cn)
	c.mu.Unlock()
	_ = cn.sock.Close()
}

// use keeps Close from releasing the client's namespace until done is
// called, or fails if the client is closed.
func (c *Client) use() (done func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return nil, errClosed
	}
	c.users.Add(1)
	return c.users.Done, nil
}

// Info describes the kernel's IPVS.
type Info struct {
	// Version is the IPVS version, such as 1.2.1.
	Version Version
	// ConnectionTableSize is the number of buckets of the connection
	// hash table. Up to Linux 6.12 at least, it is fixed at load by the
	// ip_vs module's conn_tab_bits parameter and shared by all network
	// namespaces; Linux 7.2 reports a table of the namespace's own: 0
	// before the namespace's first service, 256 buckets after it.
	ConnectionTableSize uint32
}

// Version is an IPVS version number.
type Version struct {
	Major, Minor, Patch uint8
}

// String returns the version as "1.2.1".
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// decodeInfoReply decodes the attributes of the SET_INFO reply to
// GET_INFO, which are at the top level.
func decodeInfoReply(p []byte, info *Info) error {
	*info = Info{}
	a := nlmsg.NewAttrReader(p)
	for a.Next() {
		switch a.Type() {
		case ipvsh.InfoAttrVersion:
			v := a.U32("info VERSION")
			info.Version = Version{Major: uint8(v >> 16), Minor: uint8(v >> 8), Patch: uint8(v)}
		case ipvsh.InfoAttrConnTabSize:
			info.ConnectionTableSize = a.U32("info CONN_TAB_SIZE")
		}
	}
	return a.Err()
}

// Info returns the kernel's IPVS version and connection table size.
func (c *Client) Info(ctx context.Context) (Info, error) {
	return get(ctx, c, reqInfo, tableWide{}, decodeInfoReply)
}
