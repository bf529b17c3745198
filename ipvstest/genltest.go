package ipvstest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// NewGenltestClient returns a real *ipvs.Client whose requests go to
// conn, a connection made by genltest.Dial, so that tests written for
// mdlayher's genltest (as cloudflare/ipvs's are) can drive this library:
// the test's function sees each request as a genetlink.Message and
// answers it.
//
// It looks the IPVS family up through conn, then sends each request on
// its own and receives genltest's answer to it at once. genltest answers
// as the test's function says, not as the kernel frames it, so the client
// frames it as the kernel would: the answer's messages get the family's
// type, the request's sequence number, and, for a message whose command
// the function left 0, the command of the kernel's reply (NEW_SERVICE to
// GET_SERVICE, ...); a dump's messages are marked multipart and followed
// by NLMSG_DONE; a request that asks for an acknowledgement gets one
// after its answer, whose bare headers (what such tests return to stand
// for it) are dropped; and a genltest.Error becomes the kernel's
// NLMSG_ERROR with that errno. A function that answers nothing returns
// io.EOF, as genltest asks.
//
// Closing the client leaves conn open.
func NewGenltestClient(conn *genetlink.Conn) (*ipvs.Client, error) {
	f, err := conn.GetFamily(ipvsh.GenlName)
	if err != nil {
		return nil, fmt.Errorf("look up the %s family through genltest: %w", ipvsh.GenlName, err)
	}
	g := &genlConn{conn: conn, family: f.ID}
	dial := func() (seam.Socket, error) { return &genlSocket{g: g}, nil }
	c, err := seam.NewClient(dial, nil, f.ID, f.Version)
	if err != nil {
		return nil, err
	}
	return c.(*ipvs.Client), nil
}

// genlConn is the connection the client's sockets share: one request at
// a time goes through it.
type genlConn struct {
	mu     sync.Mutex
	conn   *genetlink.Conn
	family uint16
}

// genlPortID is the port ID the client's sockets report, and that their
// replies carry.
const genlPortID = 1

// genlSocket is one of the client's sockets: it holds the datagrams of
// the answers it framed until the client reads them.
type genlSocket struct {
	g      *genlConn
	queue  [][]byte
	err    error // what the next Recv returns once the queue is empty
	closed bool
}

var _ seam.Socket = (*genlSocket)(nil)

// replyCommands are the commands of the kernel's replies to the IPVS
// requests that have replies.
var replyCommands = map[uint8]uint8{
	ipvsh.CmdGetService: ipvsh.CmdNewService,
	ipvsh.CmdGetDest:    ipvsh.CmdNewDest,
	ipvsh.CmdGetDaemon:  ipvsh.CmdNewDaemon,
	ipvsh.CmdGetConfig:  ipvsh.CmdSetConfig,
	ipvsh.CmdGetInfo:    ipvsh.CmdSetInfo,
}

// Send passes each request of b to genltest and queues its framed answer.
func (s *genlSocket) Send(b []byte, _ bool) error {
	if s.closed {
		return os.ErrClosed
	}
	for len(b) >= nlmsg.HeaderLen {
		h, err := nlmsg.ParseHeader(b)
		if err != nil || int(h.Length) < nlmsg.HeaderLen+nlmsg.GenlHeaderLen || int(h.Length) > len(b) {
			return fmt.Errorf("malformed request of %d bytes", len(b))
		}
		var req genetlink.Message
		if err := req.UnmarshalBinary(b[nlmsg.HeaderLen:h.Length]); err != nil {
			return err
		}
		s.exchange(h, req)
		b = b[min(nlmsg.Align(int(h.Length)), len(b)):]
	}
	return nil
}

// exchange sends one request through genltest, receives its answer and
// queues it as the kernel would frame it.
func (s *genlSocket) exchange(h nlmsg.Header, req genetlink.Message) {
	s.g.mu.Lock()
	_, err := s.g.conn.Send(req, h.Type, netlink.HeaderFlags(h.Flags))
	var msgs []genetlink.Message
	if err == nil {
		msgs, _, err = s.g.conn.Receive()
	}
	s.g.mu.Unlock()
	var out []byte
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		out = fakekernel.AckMessage(h, genlPortID, errno, "", 0)
	case err != nil:
		s.err = fmt.Errorf("genltest: %w", err)
		return
	default:
		dump := h.Flags&nlmsg.FlagDump == nlmsg.FlagDump
		flags := uint16(0)
		if dump {
			flags = nlmsg.FlagMulti
		}
		for _, m := range msgs {
			if h.Flags&nlmsg.FlagAck != 0 && !dump && len(m.Data) == 0 {
				continue
			}
			if m.Header.Command == 0 && h.Type == s.g.family {
				m.Header.Command = replyCommands[req.Header.Command]
			}
			if m.Header.Version == 0 {
				m.Header.Version = req.Header.Version
			}
			p, _ := m.MarshalBinary()
			out = nlmsg.AppendMessage(out, h.Type, flags, h.Sequence, genlPortID, p)
		}
		switch {
		case dump:
			out = nlmsg.AppendMessage(out, nlmsg.TypeDone, nlmsg.FlagMulti, h.Sequence, genlPortID, binary.NativeEndian.AppendUint32(nil, 0))
		case h.Flags&nlmsg.FlagAck != 0:
			out = append(out, fakekernel.AckMessage(h, genlPortID, 0, "", 0)...)
		}
	}
	if len(out) > 0 {
		s.queue = append(s.queue, out)
	}
}

// Recv returns the next queued datagram. Since genltest answers at once,
// an empty queue means no answer is coming: it fails rather than wait.
func (s *genlSocket) Recv(b []byte, wait bool) (int, error) {
	switch {
	case s.closed:
		return 0, os.ErrClosed
	case len(s.queue) > 0:
		d := s.queue[0]
		s.queue = s.queue[1:]
		return copy(b, d) + max(len(d)-len(b), 0), nil
	case s.err != nil:
		err := s.err
		s.err = nil
		return 0, err
	case !wait:
		return 0, seam.ErrWouldBlock
	}
	return 0, fmt.Errorf("genltest sent no answer: %w", os.ErrDeadlineExceeded)
}

// SetDeadline does nothing: nothing here waits.
func (s *genlSocket) SetDeadline(time.Time) error { return nil }

// PortID returns the port ID the framed answers carry.
func (s *genlSocket) PortID() uint32 { return genlPortID }

// Buffers returns sizes large enough for any batch.
func (s *genlSocket) Buffers() (send, receive int) {
	return fakekernel.SocketBuffer, fakekernel.SocketBuffer
}

// Close drops what is queued; conn stays open.
func (s *genlSocket) Close() error {
	s.closed, s.queue = true, nil
	return nil
}
