//go:build linux

package ipvs

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// newClient opens the namespace and the first socket, and looks the
// family up through it.
func newClient(cfg *Config) (*Client, error) {
	ns, err := openNetNS(cfg)
	if err != nil {
		return nil, err
	}
	genl := dialer(ns, unix.NETLINK_GENERIC)
	dial := func() (seam.Socket, error) {
		s, err := genl()
		if err != nil {
			return nil, fmt.Errorf("dial generic netlink: %w", err)
		}
		return s, nil
	}
	c := newClientWith(cfg, dial, genlFamily{})
	c.proc = nsProc{c: c, ns: ns}
	c.dialConntrack = dialer(ns, unix.NETLINK_NETFILTER)
	if ns != nil {
		c.releaseNS = ns.close
	}
	cn, err := c.acquire()
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	f, err := lookupFamily(context.Background(), cn, ipvsh.GenlName)
	c.release(cn)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	c.setFamily(f)
	return c, nil
}

// dialer returns the dial of the client's sockets of the netlink protocol
// proto in the namespace ns (in the dialling thread's, if ns is nil).
func dialer(ns *netNS, proto int) func() (seam.Socket, error) {
	return func() (seam.Socket, error) {
		nc, err := ns.dial(proto)
		if err != nil {
			return nil, err
		}
		s, err := newRawSocket(nc)
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
		return s, nil
	}
}

// dialNetfilter opens a netfilter netlink socket, conntrack's, in the
// calling thread's namespace: for a client made without one of its own.
var dialNetfilter = dialer(nil, unix.NETLINK_NETFILTER)

// dialNetlink opens a netlink socket of protocol proto in the namespace
// of nsfd, or in the calling thread's if nsfd is 0.
func dialNetlink(nsfd, proto int) (*netlink.Conn, error) {
	nc, err := netlink.Dial(proto, &netlink.Config{NetNS: nsfd})
	if err != nil {
		return nil, setnsError(err)
	}
	// Best effort, not netlink.Config.Strict: kernels before 4.12 lack
	// extended ACKs, and IPVS must work there. Capped ACKs keep the kernel
	// from echoing each request back in its error.
	for _, o := range []netlink.ConnOption{netlink.ExtendedAcknowledge, netlink.CapAcknowledge} {
		_ = nc.SetOption(o, true)
	}
	return nc, nil
}

// rawSocket does its I/O with plain system calls on the netlink socket's
// file descriptor: one write per request and one recvfrom per datagram,
// into the caller's buffer. netlink.Conn would peek at every datagram to
// size a fresh buffer, and read a whole dump before returning any of it.
type rawSocket struct {
	nc             *netlink.Conn
	rc             syscall.RawConn
	pid            uint32
	sndbuf, rcvbuf int // as the kernel reports them

	// The system call in progress: its buffer, whether it may wait, and
	// its results. The functions handed to the RawConn are bound once, at
	// dial, and read these fields, so that no call allocates a closure.
	// A socket serves one call at a time.
	buf                  []byte
	wait                 bool
	n                    uintptr
	errno                syscall.Errno
	sendFn, recvFn       func(fd uintptr) bool
	sendCtlFn, recvCtlFn func(fd uintptr)
}

// socketBufferSize is what each socket asks for its send and receive
// buffers, so that batches can send large datagrams and their answers
// fit at once. It is a limit, not memory held. SO_*BUFFORCE needs
// CAP_NET_ADMIN, which IPVS needs anyway; without it the system's
// maximum applies.
const socketBufferSize = 4 << 20

func newRawSocket(nc *netlink.Conn) (*rawSocket, error) {
	rc, err := nc.SyscallConn()
	if err != nil {
		return nil, err
	}
	s := &rawSocket{nc: nc, rc: rc, pid: nc.PID()}
	s.sendFn, s.recvFn = s.sysWrite, s.sysRecv
	s.sendCtlFn = func(fd uintptr) { s.sysWrite(fd) }
	s.recvCtlFn = func(fd uintptr) { s.sysRecv(fd) }
	_ = rc.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], socketBufferSize) != nil {
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], socketBufferSize)
			}
		}
		s.sndbuf, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF)
		s.rcvbuf, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	})
	return s, nil
}

func (s *rawSocket) Buffers() (int, int) { return s.sndbuf, s.rcvbuf }

// Send writes one datagram. Without wait it runs the call on the fd
// directly, which is cheaper than the poller's way and enough, since the
// kernel never makes a netlink write to itself wait.
func (s *rawSocket) Send(b []byte, wait bool) error {
	s.buf, s.wait = b, wait
	var err error
	if wait {
		err = s.rc.Write(s.sendFn)
	} else {
		err = s.rc.Control(s.sendCtlFn)
	}
	s.buf = nil
	return s.result(err, "write")
}

// Recv reads one datagram. Without wait, it runs on the fd directly: the
// socket is non-blocking, so an empty queue answers EAGAIN at once.
func (s *rawSocket) Recv(b []byte, wait bool) (int, error) {
	s.buf, s.wait = b, wait
	var err error
	if wait {
		err = s.rc.Read(s.recvFn)
	} else {
		err = s.rc.Control(s.recvCtlFn)
	}
	s.buf = nil
	return int(s.n), s.result(err, "recvfrom")
}

// result turns the outcome of a system call into Send's and Recv's error.
func (s *rawSocket) result(err error, call string) error {
	switch {
	case err != nil:
		return err
	case s.errno == unix.EAGAIN:
		return seam.ErrWouldBlock
	case s.errno != 0:
		return os.NewSyscallError(call, s.errno)
	}
	return nil
}

// sysWrite and sysRecv make their system call on fd, again after EINTR;
// they tell the poller to wait (false) only on EAGAIN when they may.
func (s *rawSocket) sysWrite(fd uintptr) bool {
	for {
		s.n, _, s.errno = unix.Syscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(s.buf))), uintptr(len(s.buf)))
		if s.errno != unix.EINTR {
			return !s.wait || s.errno != unix.EAGAIN
		}
	}
}

func (s *rawSocket) sysRecv(fd uintptr) bool {
	for {
		// recvfrom with MSG_TRUNC returns the datagram's full length;
		// unix.Recvfrom would allocate a source address each time.
		s.n, _, s.errno = unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(s.buf))), uintptr(len(s.buf)), unix.MSG_TRUNC, 0, 0)
		if s.errno != unix.EINTR {
			return !s.wait || s.errno != unix.EAGAIN
		}
	}
}

func (s *rawSocket) SetDeadline(t time.Time) error { return s.nc.SetDeadline(t) }
func (s *rawSocket) PortID() uint32                { return s.pid }
func (s *rawSocket) Close() error                  { return s.nc.Close() }
