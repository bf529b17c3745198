// Package seam is where package ipvs meets what stands in for the kernel:
// the socket interface its client speaks bytes through, the procfs files
// it reads beside, and a hook that builds a client over any such pair.
// Package ipvstest uses it to put an in-memory IPVS behind a real
// *ipvs.Client. It is internal-only.
package seam

import (
	"errors"
	"io"
	"time"
)

// Socket is one netlink socket bound to the namespace a client works in.
// It knows datagrams, never what they hold.
type Socket interface {
	// Send sends one datagram of one or more netlink messages. The kernel
	// handles every request within the call, queueing its answers before
	// Send returns. If wait is false and sending would block, it returns
	// ErrWouldBlock.
	Send(b []byte, wait bool) error
	// Recv receives one datagram into b and returns its full length, which
	// exceeds len(b) when it was truncated. If wait is false and nothing is
	// queued, it returns ErrWouldBlock; else it waits up to the deadline.
	Recv(b []byte, wait bool) (int, error)
	// SetDeadline bounds waiting Sends and Recvs; a time in the past wakes
	// one that waits now. The zero time removes the bound. A wait that
	// meets the deadline returns an error matching os.ErrDeadlineExceeded.
	SetDeadline(t time.Time) error
	// PortID is the socket's netlink port ID, which replies carry.
	PortID() uint32
	// Buffers returns the sizes of the send and receive buffers, which
	// bound the datagrams of a batch.
	Buffers() (send, receive int)
	// Close closes the socket; a Send or Recv waiting on it returns an
	// error at once.
	Close() error
}

// ErrWouldBlock is what Send and Recv return when they must not wait and
// would have to.
var ErrWouldBlock = errors.New("would block")

// Proc is what a client reads and writes in procfs, in the namespace it
// works in: the files of IPVS that its Generic Netlink family does not
// cover.
type Proc interface {
	// OpenConns opens the connection table's two files, ip_vs_conn and
	// ip_vs_conn_sync. An error matching os.ErrNotExist means no IPVS.
	OpenConns() (plain, sync io.ReadCloser, err error)
	// Sysctls returns the IPVS sysctls (net/ipv4/vs) by name, each as
	// its text without the final newline. An error matching
	// os.ErrNotExist means no IPVS.
	Sysctls() (map[string]string, error)
	// SetSysctl writes text to the sysctl name, in one write.
	SetSysctl(name, text string) error
	// ReadStats returns the text of ip_vs_stats, the namespace's totals.
	// An error matching os.ErrNotExist means no IPVS.
	ReadStats() ([]byte, error)
}

// NewClient returns an *ipvs.Client, as an any, whose sockets come from
// dial, whose procfs files come from proc (nil: none), and whose IPVS
// family has the given ID and version. Package ipvs sets it when it is
// initialized; the client owns the sockets dial returns and closes them.
var NewClient func(dial func() (Socket, error), proc Proc, family uint16, version uint8) (any, error)
