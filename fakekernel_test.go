package ipvs

import (
	"encoding/binary"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// This file holds a fake kernel for the client tests; the kernel's side
// of the wire format, how it encodes replies, is in kernelreplies_test.go.
//
// The fake is a socket in memory, not genltest: genltest hands back
// parsed messages, while the client reads datagrams and checks their
// framing itself. Like the real kernel, the fake handles a request within
// the write that sends it and queues the reply datagrams, so a test sees
// exactly the bytes the client sent and the client reads exactly the
// framing the kernel uses: a dump over several datagrams ending in
// NLMSG_DONE, a single reply without NLM_F_MULTI, an ACK, or an
// NLMSG_ERROR with a capped request header and an extended ACK message.

const (
	testFamilyID = 0x24
	testPortID   = 4242
)

// kernelRequest is one request as the fake kernel saw it.
type kernelRequest struct {
	Header nlmsg.Header
	Cmd    uint8
	Attrs  []byte // after the genl header
	Raw    []byte // the whole netlink message
}

// kernelReply is the handler's answer to a request: messages (each a genl
// message: header and attributes), or an errno, or, with Silent, nothing.
type kernelReply struct {
	Msgs    [][]byte
	Errno   syscall.Errno
	ExtAck  string
	Silent  bool // send nothing at all (as DEL_DAEMON sometimes does)
	DoneErr syscall.Errno
	Raw     [][]byte // datagrams to send as they are, instead of the above
}

type kernelHandler func(req kernelRequest) kernelReply

// fakeKernel serves requests on any number of fake sockets.
type fakeKernel struct {
	t        testing.TB
	handler  kernelHandler
	perDgram int // messages per dump datagram
	// Buffer sizes of the fake sockets: small, so that tests cross
	// datagram boundaries.
	sndbuf, rcvbuf int

	// family, if set, returns the family's current ID, or false when it is
	// gone (ip_vs unloaded); requests under another ID get ENOENT.
	family func() (uint16, bool)

	mu      sync.Mutex
	writes  int // datagrams written to the fake
	reqs    []kernelRequest
	dialled int
	socks   []*fakeSocket
}

func newFakeKernel(t testing.TB, h kernelHandler) *fakeKernel {
	return &fakeKernel{t: t, handler: h, perDgram: 2, sndbuf: 2048, rcvbuf: 4 * errorAnswerCost}
}

// client returns a Client whose sockets are this kernel's.
func (k *fakeKernel) client() *Client {
	c := newClientWith(&Config{ReplyTimeout: 5 * time.Second}, k.dial, family{id: testFamilyID, version: ipvsh.GenlVersion})
	k.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (k *fakeKernel) dial() (seam.Socket, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dialled++
	s := &fakeSocket{k: k, wake: make(chan struct{}, 1)}
	k.socks = append(k.socks, s)
	return s, nil
}

func (k *fakeKernel) requests() []kernelRequest {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]kernelRequest(nil), k.reqs...)
}

// serve handles the datagram b and returns the reply datagrams.
func (k *fakeKernel) serve(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		h, err := nlmsg.ParseHeader(b)
		if err != nil {
			k.t.Errorf("fake kernel: bad request: %v", err)
			return nil
		}
		raw := append([]byte(nil), b[:h.Length]...)
		b = b[min(nlmsg.Align(int(h.Length)), len(b)):]
		req := kernelRequest{Header: h, Raw: raw}
		if len(raw) >= nlmsg.HeaderLen+nlmsg.GenlHeaderLen {
			req.Cmd = raw[nlmsg.HeaderLen]
			req.Attrs = raw[nlmsg.HeaderLen+nlmsg.GenlHeaderLen:]
		}
		id, present := uint16(testFamilyID), true
		if k.family != nil {
			id, present = k.family()
		}
		if h.Type == nlmsg.CtrlFamilyID {
			// The controller: the client looks the family up again when a
			// request meets ENOENT.
			if !present {
				out = append(out, errorMessage(h, testPortID, syscall.ENOENT, ""))
			} else {
				out = append(out, controllerReply(h, id))
			}
			continue
		}
		if h.Type != id || !present {
			out = append(out, errorMessage(h, testPortID, syscall.ENOENT, ""))
			continue
		}
		k.mu.Lock()
		k.reqs = append(k.reqs, req)
		k.mu.Unlock()
		out = append(out, k.frame(h, k.handler(req))...)
	}
	return out
}

// frame turns a handler's reply into datagrams, as the kernel would.
func (k *fakeKernel) frame(req nlmsg.Header, r kernelReply) [][]byte {
	if r.Silent {
		return nil
	}
	if r.Raw != nil {
		return r.Raw
	}
	pid := uint32(testPortID)
	if r.Errno != 0 {
		return [][]byte{errorMessage(req, pid, r.Errno, r.ExtAck)}
	}
	if req.Flags&nlmsg.FlagDump == nlmsg.FlagDump {
		var dgrams [][]byte
		var cur []byte
		for i, m := range r.Msgs {
			cur = appendMessage(cur, testFamilyID, nlmsg.FlagMulti, req.Sequence, pid, m)
			if (i+1)%k.perDgram == 0 {
				dgrams = append(dgrams, cur)
				cur = nil
			}
		}
		done := binary.NativeEndian.AppendUint32(nil, uint32(-int32(r.DoneErr)))
		cur = appendMessage(cur, nlmsg.TypeDone, nlmsg.FlagMulti, req.Sequence, pid, done)
		return append(dgrams, cur)
	}
	var dgrams [][]byte
	for _, m := range r.Msgs {
		dgrams = append(dgrams, appendMessage(nil, testFamilyID, 0, req.Sequence, pid, m))
	}
	if req.Flags&nlmsg.FlagAck != 0 {
		dgrams = append(dgrams, errorMessage(req, pid, 0, ""))
	}
	return dgrams
}

// controllerReply answers a GETFAMILY request for IPVS.
func controllerReply(req nlmsg.Header, id uint16) []byte {
	w := attrWriter{b: []byte{nlmsg.CtrlCmdNewFamily, nlmsg.CtrlVersion, 0, 0}}
	w.str(nlmsg.CtrlAttrFamilyName, ipvsh.GenlName)
	w.u16(nlmsg.CtrlAttrFamilyID, id)
	w.u32(nlmsg.CtrlAttrVersion, ipvsh.GenlVersion)
	return appendMessage(nil, nlmsg.CtrlFamilyID, 0, req.Sequence, testPortID, w.b)
}

func appendMessage(b []byte, typ, flags uint16, seq, pid uint32, payload []byte) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(nlmsg.HeaderLen+len(payload)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, pid)
	b = append(b, payload...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// errorMessage builds an NLMSG_ERROR as a socket with capped, extended
// ACKs gets it: the errno, the request's header, and the message TLV.
func errorMessage(req nlmsg.Header, pid uint32, errno syscall.Errno, msg string) []byte {
	p := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	p = binary.NativeEndian.AppendUint32(p, req.Length)
	p = binary.NativeEndian.AppendUint16(p, req.Type)
	p = binary.NativeEndian.AppendUint16(p, req.Flags)
	p = binary.NativeEndian.AppendUint32(p, req.Sequence)
	p = binary.NativeEndian.AppendUint32(p, req.PID)
	flags := uint16(nlmsg.FlagCapped)
	if msg != "" {
		w := attrWriter{b: p}
		w.str(1, msg) // NLMSGERR_ATTR_MSG
		p = w.b
		flags |= nlmsg.FlagAckTLVs
	}
	return appendMessage(nil, nlmsg.TypeError, flags, req.Sequence, pid, p)
}

// fakeSocket is one socket of the fake kernel.
type fakeSocket struct {
	k    *fakeKernel
	wake chan struct{}

	mu       sync.Mutex
	queue    [][]byte
	deadline time.Time
	closed   bool
}

func (s *fakeSocket) Send(b []byte, _ bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return os.ErrClosed
	}
	s.mu.Unlock()
	s.k.mu.Lock()
	s.k.writes++
	s.k.mu.Unlock()
	replies := s.k.serve(b)
	s.mu.Lock()
	s.queue = append(s.queue, replies...)
	s.mu.Unlock()
	s.signal()
	return nil
}

// deliver queues a datagram as if the kernel had sent it late.
func (s *fakeSocket) deliver(b []byte) {
	s.mu.Lock()
	s.queue = append(s.queue, b)
	s.mu.Unlock()
	s.signal()
}

func (s *fakeSocket) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *fakeSocket) Recv(b []byte, wait bool) (int, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, os.ErrClosed
		}
		if len(s.queue) > 0 {
			d := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return max(copy(b, d), len(d)), nil
		}
		dl := s.deadline
		s.mu.Unlock()
		if !wait {
			return 0, seam.ErrWouldBlock
		}
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
			timer := time.NewTimer(d)
			defer timer.Stop()
			timeout = timer.C
		}
		select {
		case <-s.wake:
		case <-timeout:
		}
	}
}

func (s *fakeSocket) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	s.signal()
	return nil
}

func (s *fakeSocket) PortID() uint32 { return testPortID }

func (s *fakeSocket) Buffers() (int, int) { return s.k.sndbuf, s.k.rcvbuf }

func (s *fakeSocket) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.signal()
	return nil
}
