package ipvs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// Batch is a list of writes for Client.Apply, which sends them together.
// Each write is checked and encoded when it is added, into one buffer
// that Apply then sends in slices, so a batch of many thousand writes
// costs little more than its bytes. The zero Batch is empty and ready to
// use; a Batch may be reused after Reset, and applied again, but not by
// two calls at once: Apply fills in the requests' headers where they lie.
type Batch struct {
	buf []byte // the requests, back to back; Apply fills in their headers
	ops []batchOp
}

// batchOp is one write of a batch.
type batchOp struct {
	op       string
	cmd      uint8
	body     body
	off, end int   // its request in buf; empty if refused
	err      error // the client's refusal, if any
}

func (b *Batch) add(op string, cmd uint8, bd body, svc *Service, dst *Destination) {
	o := batchOp{op: op, cmd: cmd, body: bd, off: len(b.buf)}
	if err := validateObjects(bd, svc, dst); err != nil {
		r := request{op: op, cmd: cmd, body: bd, svc: *svc, dst: *dst}
		o.end, o.err = o.off, r.wrap(err)
		b.ops = append(b.ops, o)
		return
	}
	// The family ID, flags and sequence number are filled in by Apply.
	var off int
	b.buf, off = nlmsg.StartRequest(b.buf, 0, 0, 0, cmd, ipvsh.GenlVersion)
	w := attrWriter{b: b.buf}
	encodeObjects(&w, bd, svc, dst)
	b.buf = nlmsg.FinishRequest(w.b, off)
	o.end = len(b.buf)
	b.ops = append(b.ops, o)
}

// request decodes op's request back, to name its object in an error.
func (b *Batch) request(i int) *request {
	o := &b.ops[i]
	r := &request{op: o.op, cmd: o.cmd, body: o.body}
	msg := b.buf[o.off+nlmsg.HeaderLen : o.end]
	p, _ := genlPayload(msg)
	if nest, ok, _ := nested(p, ipvsh.CmdAttrService); ok {
		_ = r.svc.decode(nest)
	}
	if nest, ok, _ := nested(p, ipvsh.CmdAttrDest); ok {
		_ = r.dst.decode(nest, r.svc.Family)
	}
	return r
}

// CreateService adds the creation of a service to the batch.
func (b *Batch) CreateService(svc Service) {
	b.add(opCreateService, ipvsh.CmdNewService, bodySvc, &svc, &Destination{})
}

// UpdateService adds an update of a service to the batch.
func (b *Batch) UpdateService(svc Service) {
	b.add(opUpdateService, ipvsh.CmdSetService, bodySvc, &svc, &Destination{})
}

// RemoveService adds the removal of a service to the batch.
func (b *Batch) RemoveService(svc Service) {
	b.add(opRemoveService, ipvsh.CmdDelService, bodySvcKey, &svc, &Destination{})
}

// CreateDestination adds the creation of a destination to the batch.
func (b *Batch) CreateDestination(svc Service, dst Destination) {
	b.add(opCreateDest, ipvsh.CmdNewDest, bodyDest, &svc, &dst)
}

// UpdateDestination adds an update of a destination to the batch.
func (b *Batch) UpdateDestination(svc Service, dst Destination) {
	b.add(opUpdateDest, ipvsh.CmdSetDest, bodyDest, &svc, &dst)
}

// RemoveDestination adds the removal of a destination to the batch.
func (b *Batch) RemoveDestination(svc Service, dst Destination) {
	b.add(opRemoveDest, ipvsh.CmdDelDest, bodyDestKey, &svc, &dst)
}

// Len returns the number of writes in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() { b.buf, b.ops = b.buf[:0], b.ops[:0] }

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
	pending := make([]int, 0, len(b.ops)) // indexes of valid ops
	for i := range b.ops {
		if b.ops[i].err != nil {
			results[i] = b.ops[i].err
			continue
		}
		pending = append(pending, i)
	}
	// ended marks the writes not sent when the batch ends early.
	ended := func(err error) ([]error, error) {
		for _, i := range pending {
			results[i] = b.request(i).wrap(ErrNotSent)
		}
		return results, (&request{op: "apply batch"}).wrap(err)
	}
	if len(pending) == 0 {
		return results, nil
	}
	cn, err := c.get()
	if err != nil {
		return ended(err)
	}
	defer c.put(cn)
	maxBytes, maxMsgs := batchLimits(cn.sock)
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return ended(err)
		}
		n, err := c.applyDatagram(ctx, cn, b, pending, maxBytes, maxMsgs, results)
		pending = pending[n:]
		if err != nil {
			return ended(err)
		}
	}
	return results, nil
}

// applyDatagram sends as many of the pending ops as fit one datagram, the
// last of them with NLM_F_ACK as a fence, and reads the kernel's answers:
// an error for each refused op, then the fence's ACK (or error). The
// valid ops' requests lie back to back in the batch's buffer, so the
// datagram is a slice of it, its headers filled in where they lie. It
// returns how many ops it sent.
func (c *Client) applyDatagram(ctx context.Context, cn *conn, b *Batch, pending []int, maxBytes, maxMsgs int, results []error) (int, error) {
	start := b.ops[pending[0]].off
	first := cn.seq + 1
	n := 0
	for n < len(pending) && n < maxMsgs {
		o := &b.ops[pending[n]]
		if o.end-start > maxBytes && n > 0 {
			break
		}
		cn.seq++
		h := b.buf[o.off:]
		binary.NativeEndian.PutUint16(h[4:], c.family)
		binary.NativeEndian.PutUint16(h[6:], nlmsg.FlagRequest)
		binary.NativeEndian.PutUint32(h[8:], cn.seq)
		h[nlmsg.HeaderLen+1] = c.version
		n++
	}
	sent := pending[:n]
	last := cn.seq
	// The fence: the last message asks for an ACK, so the end of the
	// kernel's answers is known.
	lastOp := &b.ops[sent[n-1]]
	binary.NativeEndian.PutUint16(b.buf[lastOp.off+6:], nlmsg.FlagRequest|nlmsg.FlagAck)

	cn.begin(ctx)
	werr := cn.ctxErr(ctx, cn.write(b.buf[start:lastOp.end]))
	cn.end()
	if werr != nil {
		return 0, werr
	}
	// Every answer was queued while the write ran: read them whatever ctx
	// does now, bounded only by the reply timeout.
	rctx := context.Background()
	cn.begin(rctx)
	defer cn.end()
	for {
		dg, err := cn.recvDatagram(rctx)
		if err != nil {
			return n, c.lost(b, sent, results, err)
		}
		for len(dg) > 0 {
			h, err := nlmsg.ParseHeader(dg)
			if err != nil {
				cn.broken = true
				return n, c.lost(b, sent, results, err)
			}
			payload := dg[nlmsg.HeaderLen:h.Length]
			dg = dg[min(nlmsg.Align(int(h.Length)), len(dg)):]
			if h.Type != nlmsg.TypeError || h.Sequence < first || h.Sequence > last || h.PID != cn.sock.portID() {
				cn.broken = true
				return n, c.lost(b, sent, results, fmt.Errorf("unexpected message type %d, sequence %d in a batch of %d..%d", h.Type, h.Sequence, first, last))
			}
			errno, ke, err := nlmsg.ParseError(h.Flags, payload)
			if err != nil {
				cn.broken = true
				return n, c.lost(b, sent, results, err)
			}
			idx := sent[h.Sequence-first]
			if errno != 0 {
				results[idx] = b.request(idx).wrap(ke)
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
func (c *Client) lost(b *Batch, sent []int, results []error, cause error) error {
	for _, i := range sent {
		if results[i] == nil {
			results[i] = b.request(i).wrap(ErrOutcomeUnknown)
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
