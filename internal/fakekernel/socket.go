package fakekernel

import (
	"encoding/binary"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// Sizes of the kernel's dump chunks: the first chunk of a socket that has
// not read yet gets a page less the skb overhead (NLMSG_GOODSIZE); later
// ones as much as the largest read so far, up to SKB_WITH_OVERHEAD(32 KiB).
const (
	FirstChunk = 4096 - 320
	MaxChunk   = 32768 - 320
)

// datagram is a queued answer and the time it may be read.
type datagram struct {
	b     []byte
	ready time.Time
}

// Socket is one netlink socket of the kernel: it implements seam.Socket.
type Socket struct {
	k   *Kernel
	pid uint32
	req Request // the request being handled

	mu       sync.Mutex
	queue    []datagram
	dump     *dump // the dump in progress
	maxRecv  int   // the largest read so far, as the kernel records it
	deadline time.Time
	closed   bool
	wake     chan struct{} // closed and replaced when a waiter should look again
}

var _ seam.Socket = (*Socket)(nil)

// dump is a dump in progress: like the kernel's, it resumes at an index,
// asking for each message again for each chunk.
type dump struct {
	Answer
	seq uint32
	idx int
}

// Send handles every request of b before it returns, as the kernel does.
func (s *Socket) Send(b []byte, wait bool) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return net.ErrClosed
	}
	s.k.serve(s, b)
	return nil
}

// answer queues the answer a to the request h; isDump tells whether it
// asked for a dump.
func (s *Socket) answer(h nlmsg.Header, isDump bool, a Answer) {
	if a.Lose {
		return
	}
	var out [][]byte
	switch {
	case a.Raw != nil:
		out = a.Raw
	case a.Errno != 0:
		out = append(out, AckMessage(h, s.pid, a.Errno, a.ExtAck, a.Bad))
	case isDump:
		if a.Dump == nil {
			msgs := a.Msgs
			a.Dump = func(i int) []byte {
				if i < len(msgs) {
					return msgs[i]
				}
				return nil
			}
		}
		s.mu.Lock()
		if s.dump != nil {
			s.mu.Unlock()
			out = append(out, AckMessage(h, s.pid, syscall.EBUSY, "", 0))
			break
		}
		// A started dump gets no ACK (netlink_dump_start's -EINTR); its
		// first chunk is built at once.
		s.dump = &dump{Answer: a, seq: h.Sequence}
		s.nextChunk()
		s.mu.Unlock()
		return
	default:
		for _, m := range a.Msgs {
			out = append(out, nlmsg.AppendMessage(nil, h.Type, 0, h.Sequence, s.pid, m))
		}
		if h.Flags&nlmsg.FlagAck != 0 {
			out = append(out, AckMessage(h, s.pid, 0, "", 0))
		}
	}
	s.mu.Lock()
	s.push(out, a.Delay)
	s.mu.Unlock()
}

// push queues datagrams, ready after delay; s.mu is held.
func (s *Socket) push(out [][]byte, delay time.Duration) {
	if len(out) == 0 {
		return
	}
	ready := time.Time{}
	if delay > 0 {
		ready = time.Now().Add(delay)
	}
	for _, b := range out {
		s.queue = append(s.queue, datagram{b: b, ready: ready})
	}
	s.signal()
}

// Deliver queues a datagram as if the kernel had sent it: a late or
// stray one.
func (s *Socket) Deliver(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.push([][]byte{b}, 0)
}

// signal wakes the waiters; s.mu is held.
func (s *Socket) signal() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// nextChunk builds the next datagram of the dump in progress, as
// netlink_dump does; s.mu is held. A dump callback that adds nothing ends
// the dump with NLMSG_DONE, in a datagram of its own.
func (s *Socket) nextChunk() {
	d := s.dump
	limit := max(FirstChunk, s.maxRecv)
	family, _ := s.k.Family()
	var b []byte
	if l := s.k.Lock; l != nil {
		l.Lock()
	}
	for n := 0; s.k.ChunkMessages <= 0 || n < s.k.ChunkMessages; n++ {
		m := d.Dump(d.idx)
		if m == nil || len(b)+nlmsg.HeaderLen+len(m) > limit {
			break
		}
		if b == nil {
			b = make([]byte, 0, limit)
		}
		b = nlmsg.AppendMessage(b, family, nlmsg.FlagMulti|d.DumpFlags, d.seq, s.pid, m)
		d.idx++
	}
	if l := s.k.Lock; l != nil {
		l.Unlock()
	}
	if b == nil {
		done := binary.NativeEndian.AppendUint32(nil, uint32(-int32(d.DoneErrno)))
		b = nlmsg.AppendMessage(nil, nlmsg.TypeDone, nlmsg.FlagMulti|d.DumpFlags, d.seq, s.pid, done)
		s.dump = nil
	} else {
		d.idx, d.Shift = max(0, d.idx+d.Shift), 0
	}
	s.push([][]byte{b}, d.Delay)
}

// Recv returns the next datagram. Reading one makes the kernel build the
// next chunk of a dump in progress, sized by the largest read so far.
func (s *Socket) Recv(b []byte, wait bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxRecv = min(max(s.maxRecv, len(b)), MaxChunk)
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
		if until.IsZero() {
			<-wake
		} else {
			t := time.NewTimer(time.Until(until))
			select {
			case <-wake:
			case <-t.C:
			}
			t.Stop()
		}
		s.mu.Lock()
	}
}

// SetDeadline bounds waiting Recvs; it wakes one that waits now.
func (s *Socket) SetDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadline = t
	s.signal()
	return nil
}

// PortID returns the socket's port ID.
func (s *Socket) PortID() uint32 { return s.pid }

// Buffers returns the kernel's SendBuffer and ReceiveBuffer.
func (s *Socket) Buffers() (send, receive int) { return s.k.SendBuffer, s.k.ReceiveBuffer }

// Close closes the socket and wakes a Recv that waits on it.
func (s *Socket) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.closed = true
	s.signal()
	return nil
}

// Closed reports whether the socket was closed.
func (s *Socket) Closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
