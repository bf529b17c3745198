//go:build linux

package ipvs

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// newClient opens the namespace, the first socket, and looks the family
// up through it.
func newClient(cfg *Config) (*Client, error) {
	ns, err := openNetNS(cfg)
	if err != nil {
		return nil, err
	}
	nsfd := 0
	release := func() error { return nil }
	if ns != nil {
		nsfd, release = int(ns.Fd()), ns.Close
	}
	nc, err := dialNetlink(nsfd)
	if err != nil {
		_ = release()
		return nil, err
	}
	f, err := resolveFamily(genetlink.NewConn(nc))
	if err != nil {
		_ = nc.Close()
		_ = release()
		return nil, err
	}
	first, err := newRawSocket(nc)
	if err != nil {
		_ = nc.Close()
		_ = release()
		return nil, err
	}
	replyTimeout := cfg.ReplyTimeout
	if replyTimeout == 0 {
		replyTimeout = DefaultReplyTimeout
	}
	bufSize := cfg.ReceiveBufferSize
	if bufSize == 0 {
		bufSize = DefaultReceiveBufferSize
	}
	c := &Client{
		replyTimeout: replyTimeout,
		bufSize:      bufSize,
		family:       f.ID,
		version:      f.Version,
		dial: func() (socket, error) {
			nc, err := dialNetlink(nsfd)
			if err != nil {
				return nil, err
			}
			return newRawSocket(nc)
		},
		release: release,
		ns:      ns,
	}
	c.idle = append(c.idle, newConn(first, replyTimeout, bufSize))
	return c, nil
}

// dialNetlink opens a Generic Netlink socket in the namespace of nsfd.
func dialNetlink(nsfd int) (*netlink.Conn, error) {
	nc, err := netlink.Dial(unix.NETLINK_GENERIC, &netlink.Config{NetNS: nsfd})
	if err != nil {
		return nil, fmt.Errorf("dial generic netlink: %w", err)
	}
	// Best effort, not netlink.Config.Strict: kernels before 4.12 lack
	// extended ACKs, and IPVS must work there. Capped ACKs keep the kernel
	// from echoing each request back in its error.
	for _, o := range []netlink.ConnOption{netlink.ExtendedAcknowledge, netlink.CapAcknowledge} {
		_ = nc.SetOption(o, true)
	}
	return nc, nil
}

// resolveFamily looks the IPVS family up by name; its ID is assigned at
// boot, or when ip_vs loads, and is the same in every namespace. A lookup
// for a missing family may load ip_vs through the kernel's module alias.
func resolveFamily(gc *genetlink.Conn) (genetlink.Family, error) {
	f, err := gc.GetFamily(ipvsh.GenlName)
	if errors.Is(err, os.ErrNotExist) {
		return f, fmt.Errorf("%w: %w", ErrNoIPVS, err)
	}
	if err != nil {
		return f, fmt.Errorf("look up generic netlink family %q: %w", ipvsh.GenlName, err)
	}
	return f, nil
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

func (s *rawSocket) buffers() (int, int) { return s.sndbuf, s.rcvbuf }

func (s *rawSocket) write(b []byte) error {
	var werr error
	err := s.rc.Write(func(fd uintptr) bool {
		for {
			_, werr = unix.Write(int(fd), b)
			if werr != unix.EINTR {
				return werr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return err
	}
	if werr != nil {
		return os.NewSyscallError("write", werr)
	}
	return nil
}

func (s *rawSocket) writeNow(b []byte) error {
	var werr error
	err := s.rc.Control(func(fd uintptr) {
		for {
			if _, werr = unix.Write(int(fd), b); werr != unix.EINTR {
				return
			}
		}
	})
	switch {
	case err != nil:
		return err
	case werr == unix.EAGAIN:
		return errWouldBlock
	case werr != nil:
		return os.NewSyscallError("write", werr)
	}
	return nil
}

func (s *rawSocket) readNow(b []byte) (int, error) {
	var (
		n    uintptr
		rerr syscall.Errno
	)
	// Control runs the call on the fd without the poller: the socket is
	// non-blocking, so an empty queue answers EAGAIN at once.
	err := s.rc.Control(func(fd uintptr) {
		for {
			n, _, rerr = unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), unix.MSG_TRUNC, 0, 0)
			if rerr != unix.EINTR {
				return
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case rerr == unix.EAGAIN:
		return 0, errWouldBlock
	case rerr != 0:
		return 0, os.NewSyscallError("recvfrom", rerr)
	}
	return int(n), nil
}

func (s *rawSocket) read(b []byte) (int, error) {
	var (
		n    uintptr
		rerr syscall.Errno
	)
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			// recvfrom with MSG_TRUNC returns the datagram's full length;
			// unix.Recvfrom would allocate a source address each time.
			n, _, rerr = unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), unix.MSG_TRUNC, 0, 0)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return 0, err
	}
	if rerr != 0 {
		return 0, os.NewSyscallError("recvfrom", rerr)
	}
	return int(n), nil
}

func (s *rawSocket) setDeadline(t time.Time) error { return s.nc.SetDeadline(t) }
func (s *rawSocket) portID() uint32                { return s.pid }
func (s *rawSocket) close() error                  { return s.nc.Close() }
