package nlmsg

import (
	"errors"
	"fmt"
	"io"
)

// A Reader reads the replies to one request, one datagram at a time, so
// that a dump of any size costs one receive buffer plus what the caller
// keeps of each message.
//
// Every message must carry the request's sequence number and the socket's
// port ID; anything else means the socket is out of step, which is an
// error, never a silent skip. The reply ends at:
//   - NLMSG_DONE for a multipart reply (a dump), whose payload may carry an error;
//   - NLMSG_ERROR, which is an ACK when its error code is 0 and a
//     *KernelError otherwise;
//   - the first data message without NLM_F_MULTI, for a single reply to a
//     request that did not ask for an ACK.
type Reader struct {
	recv     func([]byte) (int, error)
	buf      []byte
	seq, pid uint32
	ack      bool // the request asked for an ACK, which follows a single reply

	rest []byte // messages of the current datagram not yet returned
	done bool
	err  error
}

// NewReader returns a Reader for the replies to the request with sequence
// number seq, sent from port ID pid. recv reads one datagram into its
// argument and returns the datagram's full length, even when that is
// larger than the buffer (MSG_TRUNC), so that truncation is caught. ack
// tells whether the request carried NLM_F_ACK.
func NewReader(recv func([]byte) (int, error), buf []byte, seq, pid uint32, ack bool) *Reader {
	return &Reader{recv: recv, buf: buf, seq: seq, pid: pid, ack: ack}
}

// Reset readies r for the replies to another request, keeping its buffer.
func (r *Reader) Reset(seq uint32, ack bool) {
	r.seq, r.ack = seq, ack
	r.rest, r.done, r.err = nil, false, nil
}

// Next returns the header and the payload of the next data message. The
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

		if h.Sequence != r.seq {
			r.err = fmt.Errorf("netlink reply has sequence %d, want %d", h.Sequence, r.seq)
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
			errno, ke, err := parseError(h.Flags, payload)
			r.done = true
			switch {
			case err != nil:
				r.err = err
			case errno != 0:
				r.err = ke
			}
			continue
		case TypeDone:
			r.done = true
			if len(payload) >= 4 {
				if errno, ke, err := parseError(0, payload); err != nil {
					r.err = err
				} else if errno != 0 {
					r.err = ke
				}
			}
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
