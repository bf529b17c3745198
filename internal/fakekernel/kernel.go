// Package fakekernel is the kernel's side of the IPVS Generic Netlink
// family in memory, less IPVS itself: sockets that handle each request
// within the write that carries it and queue the answer, as the kernel
// does (netlink_rcv_skb's loop over a datagram's messages, the Generic
// Netlink core's checks, netlink_ack with capped and extended ACKs, dumps
// built a chunk at a time as each is read, the controller that resolves
// "IPVS" to the family's ID, and a family whose ID changes when ip_vs is
// reloaded), and the kernel's reply encoders. A Handler answers the
// family's requests: ipvstest's model of IPVS, or a test's script, which
// may also send raw, malformed datagrams.
//
// It is internal-only: package ipvstest is its public face.
package fakekernel

import (
	"encoding/binary"
	"sync"
	"syscall"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// Request is one request of the IPVS family, as the kernel received it.
// It, and its bytes, are valid only while the Handler runs: copy what it
// keeps.
type Request struct {
	Header nlmsg.Header
	// Cmd is the Generic Netlink command.
	Cmd uint8
	// Attrs are the attributes after the Generic Netlink header, which
	// start at offset AttrsOffset of the message.
	Attrs []byte
	// Raw is the whole message.
	Raw []byte
	// PortID is the port ID of the socket it came from.
	PortID uint32
}

// AttrsOffset is the offset of the attributes in a request, which
// extended ACKs count from.
const AttrsOffset = nlmsg.HeaderLen + nlmsg.GenlHeaderLen

// Answer is what the family makes of a request.
type Answer struct {
	// Msgs are the payloads (Generic Netlink header and attributes) of
	// the reply messages; for a dump request, the dump's, unless Dump is
	// set.
	Msgs [][]byte
	// Errno refuses the request: an NLMSG_ERROR with this errno, and
	// ExtAck's message and the offset Bad (unless 0) of the attribute at
	// fault, as an extended ACK.
	Errno  syscall.Errno
	ExtAck string
	Bad    int
	// Dump returns message i of a dump, or nil past its end; it is called
	// as each chunk is built, when the last one has been read, as the
	// kernel's dump callback is, with Kernel.Lock held.
	Dump func(i int) []byte
	// DoneErrno is the error the dump's NLMSG_DONE carries.
	DoneErrno syscall.Errno
	// DumpFlags are added to the flags of every message of the dump
	// (nlmsg.FlagDumpIntr marks it interrupted).
	DumpFlags uint16
	// Shift moves the index at which the dump resumes after its first
	// chunk: forward skips messages, backward repeats some, as a kernel's
	// dump does when objects before its position come or go.
	Shift int
	// Raw are datagrams queued as they are, instead of all the above.
	Raw [][]byte
	// Lose queues nothing at all.
	Lose bool
	// Delay holds every datagram of the answer back this long.
	Delay time.Duration
}

// Capabilities of a command of the family (GENL_CMD_CAP_*).
const (
	CapDo   = 0x02
	CapDump = 0x04
)

// IPVSOps are the IPVS family's commands and what each can do.
var IPVSOps = map[uint8]int{
	ipvsh.CmdNewService: CapDo, ipvsh.CmdSetService: CapDo, ipvsh.CmdDelService: CapDo,
	ipvsh.CmdGetService: CapDo | CapDump, ipvsh.CmdNewDest: CapDo, ipvsh.CmdSetDest: CapDo,
	ipvsh.CmdDelDest: CapDo, ipvsh.CmdGetDest: CapDump, ipvsh.CmdNewDaemon: CapDo,
	ipvsh.CmdDelDaemon: CapDo, ipvsh.CmdGetDaemon: CapDump, ipvsh.CmdSetConfig: CapDo,
	ipvsh.CmdGetConfig: CapDo, ipvsh.CmdGetInfo: CapDo, ipvsh.CmdZero: CapDo, ipvsh.CmdFlush: CapDo,
}

// SocketBuffer is what the client's sockets get with SO_*BUFFORCE, and
// what a Kernel's sockets report unless told otherwise.
const SocketBuffer = 4 << 20

// Kernel serves any number of sockets.
type Kernel struct {
	handler func(*Request) Answer

	// Lock, if set, is held while a dump's chunk is built.
	Lock sync.Locker
	// ChunkMessages, if positive, ends each dump datagram after that many
	// messages, so that small dumps cross datagram boundaries; the
	// kernel's rule, by bytes, applies in any case.
	ChunkMessages int
	// SendBuffer and ReceiveBuffer are the buffer sizes each socket
	// reports, which bound the datagrams of a batch.
	SendBuffer, ReceiveBuffer int
	// Record keeps a copy of each request of the family, for Recorded.
	Record bool

	mu       sync.Mutex
	family   uint16
	present  bool
	nextPID  uint32
	requests int
	writes   int
	recorded []Request
	sockets  []*Socket
}

// New returns a kernel whose IPVS family has the given ID, and whose
// handler answers the family's requests, after the checks of the Generic
// Netlink core: a request of an unknown command, or a dump of a command
// that cannot be dumped (and the reverse), is refused with EOPNOTSUPP,
// one too short for a Generic Netlink header with EINVAL. handler may be
// called from many goroutines at once.
func New(family uint16, handler func(*Request) Answer) *Kernel {
	return &Kernel{handler: handler, family: family, present: true, nextPID: 4000,
		SendBuffer: SocketBuffer, ReceiveBuffer: SocketBuffer}
}

// Handler returns the handler of the family's requests.
func (k *Kernel) Handler() func(*Request) Answer {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.handler
}

// SetHandler replaces the handler of the family's requests.
func (k *Kernel) SetHandler(h func(*Request) Answer) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.handler = h
}

// SetFamily gives the family a new ID, as reloading ip_vs does, or with
// present false removes it, as unloading does: requests under another
// ID, or any once it is gone, fail with ENOENT.
func (k *Kernel) SetFamily(id uint16, present bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.family, k.present = id, present
}

// Family returns the family's ID and whether it is present.
func (k *Kernel) Family() (id uint16, present bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.family, k.present
}

// Dial opens a socket: the kernel's side of a client's.
func (k *Kernel) Dial() (seam.Socket, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.nextPID++
	s := &Socket{k: k, pid: k.nextPID, wake: make(chan struct{})}
	k.sockets = append(k.sockets, s)
	return s, nil
}

// Sockets returns every socket dialled, in order.
func (k *Kernel) Sockets() []*Socket {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]*Socket(nil), k.sockets...)
}

// Requests returns how many requests, of the family and the controller,
// the kernel has received.
func (k *Kernel) Requests() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.requests
}

// Writes returns how many datagrams were sent to the kernel.
func (k *Kernel) Writes() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.writes
}

// Recorded returns the requests of the family received so far, if Record
// is set.
func (k *Kernel) Recorded() []Request {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]Request(nil), k.recorded...)
}

// serve handles the datagram b, which socket s sent, as netlink_rcv_skb
// does: each message in turn, stopping at a malformed one.
func (k *Kernel) serve(s *Socket, b []byte) {
	k.mu.Lock()
	k.writes++
	k.mu.Unlock()
	for len(b) >= nlmsg.HeaderLen {
		h, err := nlmsg.ParseHeader(b)
		if err != nil || h.Length < nlmsg.HeaderLen || int(h.Length) > len(b) {
			return
		}
		k.request(s, h, b[:h.Length])
		b = b[min(nlmsg.Align(int(h.Length)), len(b)):]
	}
}

// request runs one message and queues its answer on s.
func (k *Kernel) request(s *Socket, h nlmsg.Header, raw []byte) {
	if h.Flags&nlmsg.FlagRequest == 0 || h.Type < nlmsg.CtrlFamilyID {
		return // no request: the kernel answers nothing
	}
	// The socket's own Request, reused: a socket serves one call at a
	// time, and the handler keeps nothing of it.
	r := &s.req
	*r = Request{Header: h, Raw: raw, PortID: s.pid}
	if len(raw) >= AttrsOffset {
		r.Cmd, r.Attrs = raw[nlmsg.HeaderLen], raw[AttrsOffset:]
	}
	k.mu.Lock()
	k.requests++
	family, present, handler := k.family, k.present, k.handler
	if k.Record && h.Type == family {
		c := *r
		c.Raw = append([]byte(nil), raw...)
		if c.Attrs != nil {
			c.Attrs = c.Raw[AttrsOffset:]
		}
		k.recorded = append(k.recorded, c)
	}
	k.mu.Unlock()
	isDump := h.Flags&nlmsg.FlagDump == nlmsg.FlagDump
	var a Answer
	switch {
	case h.Type == nlmsg.CtrlFamilyID:
		a = controller(r, family, present)
	case h.Type != family || !present:
		a = Answer{Errno: syscall.ENOENT}
	case len(raw) < AttrsOffset:
		a = Answer{Errno: syscall.EINVAL}
	default:
		caps, ok := IPVSOps[r.Cmd]
		if !ok || isDump && caps&CapDump == 0 || !isDump && caps&CapDo == 0 {
			a = Answer{Errno: syscall.EOPNOTSUPP}
		} else {
			a = handler(r)
		}
	}
	s.answer(h, isDump, a)
}

// AckMessage is netlink_ack for a socket with capped and extended ACKs,
// as the client's are: the errno, the request's header, and for an error
// the kernel explained, its message and the offset of the offending
// attribute (unless bad is 0).
func AckMessage(req nlmsg.Header, pid uint32, errno syscall.Errno, msg string, bad int) []byte {
	b := make([]byte, nlmsg.HeaderLen, 2*nlmsg.HeaderLen+4)
	b = binary.NativeEndian.AppendUint32(b, uint32(-int32(errno)))
	b = binary.NativeEndian.AppendUint32(b, req.Length)
	b = binary.NativeEndian.AppendUint16(b, req.Type)
	b = binary.NativeEndian.AppendUint16(b, req.Flags)
	b = binary.NativeEndian.AppendUint32(b, req.Sequence)
	b = binary.NativeEndian.AppendUint32(b, req.PID)
	flags := uint16(nlmsg.FlagCapped)
	if errno != 0 && msg != "" {
		w := Writer{nlmsg.AttrWriter{B: b}}
		w.Str(nlmsg.ErrAttrMsg, msg)
		if bad != 0 {
			w.U32(nlmsg.ErrAttrOffs, uint32(bad))
		}
		b = w.B
		flags |= nlmsg.FlagAckTLVs
	}
	h := b[:0]
	h = binary.NativeEndian.AppendUint32(h, uint32(len(b)))
	h = binary.NativeEndian.AppendUint16(h, nlmsg.TypeError)
	h = binary.NativeEndian.AppendUint16(h, flags)
	h = binary.NativeEndian.AppendUint32(h, req.Sequence)
	binary.NativeEndian.AppendUint32(h, pid)
	return b
}
