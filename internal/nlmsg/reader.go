package nlmsg

import (
	"errors"
	"fmt"
	"io"
)

// A Reader reads the replies to one request, or to a run of requests sent
// in one datagram, one datagram at a time, so that a dump of any size
// costs one receive buffer plus what the caller keeps of each message.
//
// Every message must carry a sequence number of the requests it answers
// and the socket's port ID, and a data message must have the requested
// family's type; anything else means the socket is out of step, which is
// an error, never a silent skip. The reply ends at:
//   - NLMSG_DONE for a multipart reply (a dump), whose payload may carry an error;
//   - NLMSG_ERROR for the last request of the run, which is an ACK when
//     its error code is 0 and a *KernelError otherwise;
//   - the first data message without NLM_F_MULTI, for a single reply to a
//     request that did not ask for an ACK.
//
// An NLMSG_ERROR for an earlier request of a run is returned to the caller
// as a message, with its header: it is that request's answer.
type Reader struct {
	recv        func([]byte) (int, error)
	buf         []byte
	first, last uint32 // the run of sequence numbers answered
	pid         uint32
	typ         uint16 // of data messages; 0 accepts any
	ack         bool   // the last request asked for an ACK, which follows a single reply

	rest       []byte // messages of the current datagram not yet returned
	done       bool
	terminated bool // the reply ended with NLMSG_DONE or NLMSG_ERROR
	err        error
}

// Init readies a Reader, typically a field of a longer-lived value, to
// read with recv into buf the replies that port ID pid receives.
func (r *Reader) Init(recv func([]byte) (int, error), buf []byte, pid uint32) {
	*r = Reader{recv: recv, buf: buf, pid: pid}
}

// Reset readies r for the replies to the requests with sequence numbers
// first to last (modulo 2^32: the run may wrap), keeping its buffer. typ
// is the type data messages must have (the family ID), or 0 for any; ack
// tells whether the last request carried NLM_F_ACK.
func (r *Reader) Reset(first, last uint32, typ uint16, ack bool) {
	r.first, r.last, r.typ, r.ack = first, last, typ, ack
	r.rest, r.done, r.terminated, r.err = nil, false, false, nil
}

// Terminated reports whether the reply ended with a message that only
// ends replies (NLMSG_DONE, or the NLMSG_ERROR of an ACK or an error),
// which the kernel sends last: after it nothing more of the reply can
// come. A single reply without an ACK ends with its data message, and
// whatever follows it stays queued.
func (r *Reader) Terminated() bool { return r.terminated }

// inRun reports whether seq lies in the run first..last, modulo 2^32.
func inRun(seq, first, last uint32) bool { return seq-first <= last-first }

// Next returns the header and the payload of the next message. The
// payload aliases the receive buffer and is valid until the next call.
// Next returns io.EOF once the reply has ended without error; after an
// error it keeps returning that error.
func (r *Reader) Next() (Header, []byte, error) {
	for {
		if r.err != nil {
			return Header{}, nil, r.err
		}
		if r.done {
			if len(r.rest) != 0 {
				r.err = fmt.Errorf("%d bytes follow the end of the reply", len(r.rest))
				continue
			}
			return Header{}, nil, io.EOF
		}
		if len(r.rest) == 0 {
			n, err := r.recv(r.buf)
			if err != nil {
				r.err = err
				continue
			}
			if n > len(r.buf) {
				r.err = fmt.Errorf("netlink datagram of %d bytes truncated to the %d-byte receive buffer", n, len(r.buf))
				continue
			}
			r.rest = r.buf[:n]
			if n == 0 {
				r.err = io.ErrUnexpectedEOF
				continue
			}
		}
		h, err := ParseHeader(r.rest)
		if err != nil {
			r.err = err
			continue
		}
		payload := r.rest[HeaderLen:h.Length]
		r.rest = r.rest[min(Align(int(h.Length)), len(r.rest)):]

		if !inRun(h.Sequence, r.first, r.last) {
			if r.first == r.last {
				r.err = fmt.Errorf("netlink reply has sequence %d, want %d", h.Sequence, r.first)
			} else {
				r.err = fmt.Errorf("netlink reply has sequence %d, want %d to %d", h.Sequence, r.first, r.last)
			}
			continue
		}
		if h.PID != r.pid {
			r.err = fmt.Errorf("netlink reply is for port ID %d, want %d", h.PID, r.pid)
			continue
		}
		switch h.Type {
		case TypeNoop:
			continue
		case TypeOverrun:
			r.err = errors.New("netlink reported a receive overrun")
			continue
		case TypeError:
			if h.Sequence != r.last {
				return h, payload, nil
			}
			errno, ke, err := ParseError(h.Flags, payload)
			r.done, r.terminated = true, true
			switch {
			case err != nil:
				r.err = err
			case errno != 0:
				r.err = ke
			}
			continue
		case TypeDone:
			r.done, r.terminated = true, true
			if len(payload) >= 4 {
				if errno, ke, err := ParseError(0, payload); err != nil {
					r.err = err
				} else if errno != 0 {
					r.err = ke
				}
			}
			continue
		}
		if r.typ != 0 && h.Type != r.typ {
			r.err = fmt.Errorf("netlink reply has message type %d, want %d", h.Type, r.typ)
			continue
		}
		if h.Flags&FlagDumpIntr != 0 {
			r.err = ErrDumpInterrupted
			continue
		}
		if h.Flags&FlagMulti == 0 && !r.ack {
			r.done = true
		}
		return h, payload, nil
	}
}
