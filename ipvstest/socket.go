package ipvstest

import (
	"encoding/binary"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// Sizes of the kernel's dump chunks: the first chunk of a socket that has
// not read yet gets a page less the skb overhead (NLMSG_GOODSIZE); later
// ones as much as the largest read so far, up to SKB_WITH_OVERHEAD(32 KiB).
const (
	firstChunk = 4096 - 320
	maxChunk   = 32768 - 320
	sockBuffer = 4 << 20 // what the client's sockets get with SO_*BUFFORCE
)

// datagram is a queued reply and the time it may be read.
type datagram struct {
	b     []byte
	ready time.Time
}

// socket is one netlink socket of the model: it implements seam.Socket.
type socket struct {
	f   *Fake
	pid uint32

	mu       sync.Mutex
	queue    []datagram
	dump     *dump // the dump in progress
	maxRecv  int   // the largest read so far, as the kernel records it
	deadline time.Time
	closed   bool
	wake     chan struct{} // closed and replaced when a waiter should look again
}

var _ seam.Socket = (*socket)(nil)

// dump is a dump in progress: like the kernel's, it resumes at an index,
// walking the table from the start for each chunk.
type dump struct {
	cmd   uint8
	top   attrs
	seq   uint32
	idx   int
	flags uint16 // NLM_F_DUMP_INTR when a fault interrupts it
	delay time.Duration
	lost  bool
	shift int // added to idx after the first chunk; see Fault.Shift
}

func (f *Fake) dial() (seam.Socket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextPID++
	return &socket{f: f, pid: f.nextPID, wake: make(chan struct{})}, nil
}

// Send handles every request of b before it returns, as the kernel does.
func (s *socket) Send(b []byte, wait bool) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	for len(b) >= nlmsg.HeaderLen {
		h, err := nlmsg.ParseHeader(b)
		if err != nil || h.Length < nlmsg.HeaderLen || int(h.Length) > len(b) {
			break // netlink_rcv_skb stops at a malformed message
		}
		s.request(h, b[:h.Length])
		b = b[min(nlmsg.Align(int(h.Length)), len(b)):]
	}
	return nil
}

// request runs one message and queues what the kernel would answer.
func (s *socket) request(h nlmsg.Header, raw []byte) {
	f := s.f
	r := &request{hdr: h, raw: raw}
	if len(raw) >= nlmsg.HeaderLen+nlmsg.GenlHeaderLen {
		r.cmd = raw[nlmsg.HeaderLen]
		r.top = parseAttrs(raw[nlmsg.HeaderLen+nlmsg.GenlHeaderLen:], nlmsg.HeaderLen+nlmsg.GenlHeaderLen)
	}
	var a answer
	var ft *Fault
	if h.Flags&nlmsg.FlagRequest != 0 && h.Type >= 0x10 {
		f.mu.Lock()
		f.requests++
		if ft = f.matchFault(r); ft != nil && ft.Errno != 0 {
			a = answer{errno: ft.Errno}
		} else {
			a = f.handle(r)
		}
		f.mu.Unlock()
	}
	var delay time.Duration
	lost := false
	if ft != nil {
		delay, lost = ft.Delay, ft.Lose
	}
	var out [][]byte
	switch {
	case a.dump != nil:
		a.dump.seq, a.dump.delay, a.dump.lost = h.Sequence, delay, lost
		if ft != nil {
			a.dump.shift = ft.Shift
		}
		if ft != nil && ft.Interrupt {
			a.dump.flags = nlmsg.FlagDumpIntr
		}
		s.mu.Lock()
		if s.dump != nil {
			s.mu.Unlock()
			out = append(out, ackMessage(h, s.pid, eBUSY, nil))
			break
		}
		s.dump = a.dump
		s.nextChunk()
		s.mu.Unlock()
		// A started dump gets no ACK: netlink_dump_start's -EINTR.
	case a.errno != 0:
		out = append(out, ackMessage(h, s.pid, a.errno, &a))
	default:
		for _, m := range a.msgs {
			out = append(out, appendMessage(nil, h.Type, 0, h.Sequence, s.pid, m))
		}
		if h.Flags&nlmsg.FlagAck != 0 {
			out = append(out, ackMessage(h, s.pid, 0, nil))
		}
	}
	if !lost {
		s.push(out, delay)
	}
}

func (s *socket) push(out [][]byte, delay time.Duration) {
	if len(out) == 0 {
		return
	}
	ready := time.Time{}
	if delay > 0 {
		ready = time.Now().Add(delay)
	}
	s.mu.Lock()
	for _, b := range out {
		s.queue = append(s.queue, datagram{b: b, ready: ready})
	}
	s.signal()
	s.mu.Unlock()
}

// signal wakes the waiters; s.mu is held.
func (s *socket) signal() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// nextChunk builds the next datagram of the dump in progress, as
// netlink_dump does; s.mu is held. A dump callback that adds nothing ends
// the dump with NLMSG_DONE, in a datagram of its own.
func (s *socket) nextChunk() {
	d := s.dump
	limit := max(firstChunk, s.maxRecv)
	var b []byte
	s.f.mu.Lock()
	for {
		m := s.f.dumpItem(d)
		if m == nil || len(b)+nlmsg.HeaderLen+len(m) > limit {
			break
		}
		if b == nil {
			b = make([]byte, 0, limit)
		}
		b = appendMessage(b, s.f.familyID, nlmsg.FlagMulti|d.flags, d.seq, s.pid, m)
		d.idx++
	}
	s.f.mu.Unlock()
	if b == nil {
		b = appendMessage(nil, nlmsg.TypeDone, nlmsg.FlagMulti|d.flags, d.seq, s.pid, make([]byte, 4))
		s.dump = nil
	} else {
		d.idx, d.shift = max(0, d.idx+d.shift), 0
	}
	if d.lost {
		return
	}
	ready := time.Time{}
	if d.delay > 0 {
		ready = time.Now().Add(d.delay)
	}
	s.queue = append(s.queue, datagram{b: b, ready: ready})
	s.signal()
}

// dumpItem returns the message of the dump's next object, or nil at the
// end; f.mu is held.
func (f *Fake) dumpItem(d *dump) []byte {
	t := f.t
	switch d.cmd {
	case ipvsh.CmdGetService:
		switch i := d.idx; {
		case i < len(t.order):
			return f.encodeService(t.order[i])
		case i-len(t.order) < len(t.fwm):
			return f.encodeService(t.fwm[i-len(t.order)])
		}
	case ipvsh.CmdGetDest:
		// Each chunk looks the service up again; a missing or invalid one
		// is an empty dump, not an error.
		if _, svc, e := f.parseService(&d.top, false); e == 0 && svc != nil && d.idx < len(svc.dests) {
			return encodeDest(svc.dests[len(svc.dests)-1-d.idx])
		}
	case ipvsh.CmdGetDaemon:
		var running []uint32
		if t.master != nil {
			running = append(running, ipvsh.StateMaster)
		}
		if t.backup != nil {
			running = append(running, ipvsh.StateBackup)
		}
		if d.idx < len(running) {
			if running[d.idx] == ipvsh.StateMaster {
				return encodeDaemon(ipvsh.StateMaster, t.master)
			}
			return encodeDaemon(ipvsh.StateBackup, t.backup)
		}
	}
	return nil
}

// Recv returns the next datagram. Reading one makes the kernel build the
// next chunk of a dump in progress, sized by the largest read so far.
func (s *socket) Recv(b []byte, wait bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxRecv = min(max(s.maxRecv, len(b)), maxChunk)
	for {
		if s.closed {
			return 0, net.ErrClosed
		}
		now := time.Now()
		if len(s.queue) > 0 && !s.queue[0].ready.After(now) {
			d := s.queue[0].b
			s.queue = s.queue[1:]
			if len(s.queue) == 0 && s.dump != nil {
				s.nextChunk()
			}
			copy(b, d)
			return len(d), nil
		}
		if !wait {
			return 0, seam.ErrWouldBlock
		}
		if !s.deadline.IsZero() && !now.Before(s.deadline) {
			return 0, os.ErrDeadlineExceeded
		}
		until := s.deadline
		if len(s.queue) > 0 && (until.IsZero() || s.queue[0].ready.Before(until)) {
			until = s.queue[0].ready
		}
		wake := s.wake
		s.mu.Unlock()
		var timer <-chan time.Time
		if !until.IsZero() {
			t := time.NewTimer(time.Until(until))
			timer = t.C
			select {
			case <-wake:
			case <-timer:
			}
			t.Stop()
		} else {
			<-wake
		}
		s.mu.Lock()
	}
}

func (s *socket) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.signal()
	s.mu.Unlock()
	return nil
}

func (s *socket) PortID() uint32 { return s.pid }

func (s *socket) Buffers() (send, receive int) { return sockBuffer, sockBuffer }

func (s *socket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.closed = true
	s.signal()
	return nil
}

// nativeU32 reads 4 bytes in host order.
func nativeU32(b [4]byte) uint32 { return binary.NativeEndian.Uint32(b[:]) }
