package ipvs

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// Batch is a list of writes for Client.Apply, which sends them together.
// The zero Batch is empty and ready to use; a Batch may be reused after
// Reset.
type Batch struct {
	ops []request
}

func (b *Batch) add(op string, cmd uint8, bd body, svc Service, dst Destination) {
	b.ops = append(b.ops, request{op: op, cmd: cmd, body: bd, svc: svc, dst: dst})
}

// CreateService adds the creation of a service to the batch.
func (b *Batch) CreateService(svc Service) {
	b.add(opCreateService, ipvsh.CmdNewService, bodySvc, svc, Destination{})
}

// UpdateService adds an update of a service to the batch.
func (b *Batch) UpdateService(svc Service) {
	b.add(opUpdateService, ipvsh.CmdSetService, bodySvc, svc, Destination{})
}

// RemoveService adds the removal of a service to the batch.
func (b *Batch) RemoveService(svc Service) {
	b.add(opRemoveService, ipvsh.CmdDelService, bodySvcKey, svc, Destination{})
}

// CreateDestination adds the creation of a destination to the batch.
func (b *Batch) CreateDestination(svc Service, dst Destination) {
	b.add(opCreateDest, ipvsh.CmdNewDest, bodyDest, svc, dst)
}

// UpdateDestination adds an update of a destination to the batch.
func (b *Batch) UpdateDestination(svc Service, dst Destination) {
	b.add(opUpdateDest, ipvsh.CmdSetDest, bodyDest, svc, dst)
}

// RemoveDestination adds the removal of a destination to the batch.
func (b *Batch) RemoveDestination(svc Service, dst Destination) {
	b.add(opRemoveDest, ipvsh.CmdDelDest, bodyDestKey, svc, dst)
}

// Len returns the number of writes in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() { b.ops = b.ops[:0] }

// ErrNotSent is the result of a write that Apply did not send, because
// the batch ended before it: its context ended, or the socket failed.
var ErrNotSent = errors.New("not sent: the batch ended before this write")

// ErrOutcomeUnknown is the result of a write that the kernel received
// but whose answer was lost (the socket's receive buffer overflowed, or
// the socket failed): it may or may not have been applied; read the
// object back to know.
var ErrOutcomeUnknown = errors.New("outcome unknown: the kernel received this write, but its answer was lost")

// Apply sends the writes of b in order, packed into as few datagrams as
// the socket's buffers allow, without waiting for an acknowledgement of
// each. It returns one error per write, in the batch's order: nil if the
// kernel applied it; an *Error, as the single-call methods return, if
// the kernel or the client refused it; ErrNotSent or ErrOutcomeUnknown
// (wrapped in an *Error) if the batch ended early. A refused write does
// not stop the ones after it. The second result is the reason the batch
// ended early, if it did.
//
// The kernel handles each datagram within the write that sends it, so
// everything Apply reports as applied or refused is exact, even when ctx
// ends midway: ctx only stops further datagrams from being sent.
func (c *Client) Apply(ctx context.Context, b *Batch) ([]error, error) {
	results := make([]error, len(b.ops))
	wrap := func(i int, err error) error { return b.ops[i].wrap(err) }
	pending := make([]int, 0, len(b.ops)) // indexes of valid ops
	for i := range b.ops {
		if err := b.ops[i].validate(); err != nil {
			results[i] = wrap(i, err)
			continue
		}
		results[i] = wrap(i, ErrNotSent)
		pending = append(pending, i)
	}
	if len(pending) == 0 {
		return results, nil
	}
	cn, err := c.get()
	if err != nil {
		return results, (&request{op: "apply batch"}).wrap(err)
	}
	defer c.put(cn)
	maxBytes, maxMsgs := batchLimits(cn.sock)
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return results, (&request{op: "apply batch"}).wrap(err)
		}
		n, err := c.applyDatagram(ctx, cn, b, pending, maxBytes, maxMsgs, results, wrap)
		pending = pending[n:]
		if err != nil {
			return results, (&request{op: "apply batch"}).wrap(err)
		}
	}
	return results, nil
}

// applyDatagram sends as many of the pending ops as fit one datagram, the
// last of them with NLM_F_ACK as a fence, and reads the kernel's answers:
// an error for each refused op, then the fence's ACK (or error). It
// returns how many ops it sent.
func (c *Client) applyDatagram(ctx context.Context, cn *conn, b *Batch, pending []int, maxBytes, maxMsgs int, results []error, wrap func(int, error) error) (int, error) {
	first := cn.seq + 1
	buf := cn.req[:0]
	n := 0
	for n < len(pending) && n < maxMsgs {
		cn.seq++
		var off int
		before := len(buf)
		buf, off = nlmsg.StartRequest(buf, c.family, nlmsg.FlagRequest, cn.seq, b.ops[pending[n]].cmd, c.version)
		w := attrWriter{b: buf}
		b.ops[pending[n]].encode(&w)
		buf = nlmsg.FinishRequest(w.b, off)
		if len(buf) > maxBytes && n > 0 {
			// It does not fit: leave it for the next datagram.
			buf, cn.seq = buf[:before], cn.seq-1
			break
		}
		n++
	}
	cn.req = buf
	last := cn.seq
	// The fence: the last message asks for an ACK, so the end of the
	// kernel's answers is known. Flags sit at offset 6 of its header.
	lastOff := lastMessageOffset(buf)
	buf[lastOff+6] |= nlmsg.FlagAck

	if err := cn.begin(ctx); err != nil {
		return 0, err
	}
	werr := cn.ctxErr(ctx, cn.sock.write(buf))
	cn.end()
	if werr != nil {
		return 0, werr
	}
	for _, i := range pending[:n] {
		results[i] = nil
	}
	// Every answer was queued while the write ran: read them whatever ctx
	// does now, bounded only by the reply timeout.
	rctx := context.Background()
	if err := cn.begin(rctx); err != nil {
		return n, c.lost(pending[:n], results, wrap, err)
	}
	defer cn.end()
	for {
		dg, err := cn.recvDatagram(rctx)
		if err != nil {
			return n, c.lost(pending[:n], results, wrap, err)
		}
		for len(dg) > 0 {
			h, err := nlmsg.ParseHeader(dg)
			if err != nil {
				cn.broken = true
				return n, c.lost(pending[:n], results, wrap, err)
			}
			payload := dg[nlmsg.HeaderLen:h.Length]
			dg = dg[min(nlmsg.Align(int(h.Length)), len(dg)):]
			if h.Type != nlmsg.TypeError || h.Sequence < first || h.Sequence > last || h.PID != cn.sock.portID() {
				cn.broken = true
				return n, c.lost(pending[:n], results, wrap, fmt.Errorf("unexpected message type %d, sequence %d in a batch of %d..%d", h.Type, h.Sequence, first, last))
			}
			errno, ke, err := nlmsg.ParseError(h.Flags, payload)
			if err != nil {
				cn.broken = true
				return n, c.lost(pending[:n], results, wrap, err)
			}
			idx := pending[h.Sequence-first]
			if errno != 0 {
				results[idx] = wrap(idx, ke)
			}
			if h.Sequence == last {
				if len(dg) != 0 {
					cn.broken = true
				}
				return n, nil
			}
		}
	}
}

// lost marks the ops of a datagram whose answers were not all read as of
// unknown outcome, unless an answer already said they failed.
func (c *Client) lost(sent []int, results []error, wrap func(int, error) error, cause error) error {
	for _, i := range sent {
		if results[i] == nil {
			results[i] = wrap(i, ErrOutcomeUnknown)
		}
	}
	return cause
}

// errorAnswerCost is what an error answer costs in the receive buffer
// (an skb's true size), with room to spare.
const errorAnswerCost = 2048

// batchLimits bounds one datagram of a batch: its bytes, since the kernel
// refuses a datagram larger than the send buffer less 32 bytes (half of it
// leaves room for its accounting); and its messages, since the error
// answers to all of them must fit the receive buffer at once.
func batchLimits(s socket) (maxBytes, maxMsgs int) {
	snd, rcv := s.buffers()
	return min(max(snd/2, 256), 1<<20), max(rcv/errorAnswerCost, 1)
}

// lastMessageOffset returns the offset of the last message in b.
func lastMessageOffset(b []byte) int {
	off := 0
	for {
		h, err := nlmsg.ParseHeader(b[off:])
		if err != nil {
			return off
		}
		next := off + nlmsg.Align(int(h.Length))
		if next >= len(b) {
			return off
		}
		off = next
	}
}
