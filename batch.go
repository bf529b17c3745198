package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"syscall"

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
	buf  []byte // the requests, back to back; Apply fills in their headers
	ops  []batchOp
	svcs []serviceKey  // the services the writes name, each run of writes to one service sharing one
	errs map[int]error // the client's refusals, by write

	// The service of the last write, checked, and its SERVICE nest:
	// writes to one service and its destinations usually come together,
	// and then share them.
	lastErr  error
	lastNest []byte
}

// batchOp is one write of a batch: what it is, for its result, and where
// its request lies in the buffer. It holds no pointer, so that a batch of
// a hundred thousand writes costs the garbage collector nothing to scan.
type batchOp struct {
	off, end int     // its request in buf; empty if refused
	svc      int32   // index into svcs
	dst      destRef // of a destination write
	kind     uint8   // index into batchRequests
	hasDst   bool
}

// destRef is a destination's identity without a pointer: its address as
// 16 bytes, the family telling how to read them.
type destRef struct {
	addr   [16]byte
	port   uint16
	family Family
}

// batchRequests are the kinds of write a batch holds.
var batchRequests = [...]*request{&reqCreateService, &reqUpdateService, &reqRemoveService, &reqCreateDest, &reqUpdateDest, &reqRemoveDest}

const (
	kindCreateService uint8 = iota
	kindUpdateService
	kindRemoveService
	kindCreateDest
	kindUpdateDest
	kindRemoveDest
)

// writeName names write i of a batch, as the single call's error would.
type writeName struct {
	b *Batch
	i int
}

func (w writeName) String() string {
	op := &w.b.ops[w.i]
	k := w.b.svcs[op.svc]
	if !op.hasDst {
		return k.String()
	}
	a := netip.AddrFrom16(op.dst.addr)
	if op.dst.family == FamilyIPv4 {
		a = a.Unmap()
	}
	return destKey{family: op.dst.family, addr: a, port: op.dst.port}.String() + " of " + k.String()
}

// fail wraps err as the error of write i.
func (b *Batch) fail(i int, err error) error {
	return wrap(*batchRequests[b.ops[i].kind], writeName{b, i}, err)
}

// The writes are checked and encoded by pointer, without the generic
// operands of single calls: a batch may hold a hundred thousand of them,
// and copying each object through several calls costs more than encoding
// it.

// CreateService adds the creation of a service to the batch.
func (b *Batch) CreateService(svc Service) { b.addService(kindCreateService, &svc, true) }

// UpdateService adds an update of a service to the batch.
func (b *Batch) UpdateService(svc Service) { b.addService(kindUpdateService, &svc, true) }

// RemoveService adds the removal of a service to the batch.
func (b *Batch) RemoveService(svc Service) { b.addService(kindRemoveService, &svc, false) }

// CreateDestination adds the creation of a destination to the batch.
func (b *Batch) CreateDestination(svc Service, dst Destination) {
	b.addDestination(kindCreateDest, &svc, &dst, true)
}

// UpdateDestination adds an update of a destination to the batch.
func (b *Batch) UpdateDestination(svc Service, dst Destination) {
	b.addDestination(kindUpdateDest, &svc, &dst, true)
}

// RemoveDestination adds the removal of a destination to the batch.
func (b *Batch) RemoveDestination(svc Service, dst Destination) {
	b.addDestination(kindRemoveDest, &svc, &dst, false)
}

func (b *Batch) addService(kind uint8, svc *Service, full bool) {
	k := svc.key()
	b.service(k)
	var err error
	if full {
		err = svc.validate(k)
	} else {
		err = b.lastErr
	}
	if b.refused(kind, nil, err) {
		return
	}
	off := b.start(kind)
	w := attrWriter{b: b.buf}
	if full {
		svc.encodeNest(&w, k)
	} else {
		w.b = append(w.b, b.lastNest...)
	}
	b.finish(kind, nil, w.b, off)
}

func (b *Batch) addDestination(kind uint8, svc *Service, dst *Destination, full bool) {
	k := svc.key()
	b.service(k)
	dk := dst.key(k)
	err := b.lastErr
	if err == nil && full {
		err = dst.validate(k, dk)
	} else if err == nil {
		err = dk.validate()
	}
	if b.refused(kind, &dk, err) {
		return
	}
	off := b.start(kind)
	w := attrWriter{b: append(b.buf, b.lastNest...)}
	encodeDestinationNest(&w, dk, dst, full)
	b.finish(kind, &dk, w.b, off)
}

// service makes k the service of the next write: the last one's, or a new
// one, checked and encoded once.
func (b *Batch) service(k serviceKey) {
	if n := len(b.svcs); n > 0 && b.svcs[n-1] == k {
		return
	}
	b.svcs = append(b.svcs, k)
	w := attrWriter{b: b.lastNest[:0]}
	k.encodeNest(&w)
	b.lastErr, b.lastNest = k.validate(), w.b
}

// refused records a write the client refuses, if err says so.
func (b *Batch) refused(kind uint8, dk *destKey, err error) bool {
	if err == nil {
		return false
	}
	op := b.record(kind, dk)
	op.off, op.end = len(b.buf), len(b.buf)
	if b.errs == nil {
		b.errs = map[int]error{}
	}
	i := len(b.ops) - 1
	b.errs[i] = b.fail(i, err)
	return true
}

// record appends a write's identity, in place.
func (b *Batch) record(kind uint8, dk *destKey) *batchOp {
	b.ops = append(b.ops, batchOp{kind: kind, svc: int32(len(b.svcs) - 1)})
	op := &b.ops[len(b.ops)-1]
	if dk != nil {
		op.dst, op.hasDst = destRef{addr: dk.addr.As16(), port: dk.port, family: dk.family}, true
	}
	return op
}

// start begins a write's request; its family ID, flags and sequence
// number are filled in by Apply.
func (b *Batch) start(kind uint8) int {
	var off int
	b.buf, off = nlmsg.StartRequest(b.buf, 0, 0, 0, batchRequests[kind].cmd, ipvsh.GenlVersion)
	return off
}

// finish ends the request that starts at off, whose buffer is now buf.
func (b *Batch) finish(kind uint8, dk *destKey, buf []byte, off int) {
	b.buf = nlmsg.FinishRequest(buf, off)
	op := b.record(kind, dk)
	op.off, op.end = off, len(b.buf)
}

// Len returns the number of writes in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Reset empties the batch, keeping its memory.
func (b *Batch) Reset() {
	b.buf, b.ops, b.svcs, b.errs = b.buf[:0], b.ops[:0], b.svcs[:0], nil
}

// ErrNotSent is the result of a write that Apply did not send, because
// the batch ended before it: its context ended, or the socket failed.
var ErrNotSent = errors.New("not sent: the batch ended before this write")

// ErrOutcomeUnknown is the result of a write that the kernel received
// but whose answer was lost (the socket's receive buffer overflowed, or
// the socket failed): it may or may not have been applied; read the
// object back to know.
var ErrOutcomeUnknown = errors.New("outcome unknown: the kernel received this write, but its answer was lost")

// BatchError is Apply's error when any write of the batch failed. It
// matches, with errors.Is and errors.As, the error of each failed write
// and the reason the batch ended early, if it did.
type BatchError struct {
	// Failed counts the writes whose result is not nil, of Total.
	Failed, Total int
	// Cause is why the batch ended before its last write, or nil.
	Cause error
	// Results holds one result per write, in the batch's order: the
	// slice Apply returns.
	Results []error
}

// Error returns "ipvs: apply batch: N of M writes failed", with the
// first failure and the cause, if any.
func (e *BatchError) Error() string {
	s := "ipvs: " + opApply + ": " + strconv.Itoa(e.Failed) + " of " + strconv.Itoa(e.Total) + " writes failed"
	for _, err := range e.Results {
		if err != nil {
			s += "; the first: " + err.Error()
			break
		}
	}
	if e.Cause != nil {
		s += "; the batch ended early: " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the cause and the failed writes' errors.
func (e *BatchError) Unwrap() []error {
	errs := make([]error, 0, e.Failed+1)
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	for _, err := range e.Results {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

var errNilBatch = errors.New("the batch is nil")

// Apply sends the writes of b in order, packed into as few datagrams as
// the socket's buffers allow, without waiting for an acknowledgement of
// each. It returns one result per write, in the batch's order: nil if the
// kernel applied it; an *Error, as the single-call methods return, if
// the kernel or the client refused it; ErrNotSent or ErrOutcomeUnknown
// (wrapped in an *Error) if the batch ended early. A refused write does
// not stop the ones after it.
//
// The error is nil only if every write was applied; otherwise it is a
// *BatchError, which holds the results too, so checking it alone is safe.
//
// The kernel handles each datagram within the write that sends it, so
// everything Apply reports as applied or refused is exact, even when ctx
// ends midway: ctx is checked before each datagram, and the answers to a
// datagram sent are always read.
func (c *Client) Apply(ctx context.Context, b *Batch) ([]error, error) {
	if b == nil {
		return nil, &Error{Op: opApply, Err: errNilBatch}
	}
	results := make([]error, len(b.ops))
	pending := make([]int, 0, len(b.ops)) // indexes of valid ops
	for i := range b.ops {
		if err := b.errs[i]; err != nil {
			results[i] = err
			continue
		}
		pending = append(pending, i)
	}
	cause := c.applyPending(ctx, b, pending, results)
	return results, batchError(results, cause)
}

// batchError sums up the results of a batch; nil if all succeeded.
func batchError(results []error, cause error) error {
	failed := 0
	for _, err := range results {
		if err != nil {
			failed++
		}
	}
	if failed == 0 && cause == nil {
		return nil
	}
	if cause != nil {
		cause = &Error{Op: opApply, Err: cause}
	}
	return &BatchError{Failed: failed, Total: len(results), Cause: cause, Results: results}
}

// applyPending sends the pending writes datagram by datagram. It returns
// why the batch ended early, marking the writes it did not send.
func (c *Client) applyPending(ctx context.Context, b *Batch, pending []int, results []error) error {
	ended := func(err error) error {
		for _, i := range pending {
			results[i] = b.fail(i, ErrNotSent)
		}
		return err
	}
	if len(pending) == 0 {
		return nil
	}
	cn, err := c.acquire()
	if err != nil {
		return ended(err)
	}
	defer c.release(cn)
	maxBytes, maxMsgs := batchLimits(cn.sock)
	for len(pending) > 0 {
		if err := ctx.Err(); err != nil {
			return ended(err)
		}
		n := datagramSize(b, pending, maxBytes, maxMsgs)
		sent, err := c.applyDatagram(ctx, cn, b, pending[:n], results)
		if !sent {
			return ended(err)
		}
		pending = pending[n:]
		if err != nil {
			return ended(err)
		}
	}
	return nil
}

// datagramSize returns how many of the pending ops fit one datagram.
func datagramSize(b *Batch, pending []int, maxBytes, maxMsgs int) int {
	start := b.ops[pending[0]].off
	n := 1
	for n < len(pending) && n < maxMsgs && b.ops[pending[n]].end-start <= maxBytes {
		n++
	}
	return n
}

// applyDatagram sends the ops of sent, which lie back to back in the
// batch's buffer, as one datagram, the last with NLM_F_ACK as a fence so
// that the end of the kernel's answers is known, and records the answers:
// an error for each refused write, then the fence's ACK or error.
//
// If every write met ENOENT, the family's ID may have gone stale (ip_vs
// reloaded): nothing was applied, so the datagram is sent once more under
// the ID a fresh lookup finds.
// It reports whether the datagram was sent.
func (c *Client) applyDatagram(ctx context.Context, cn *conn, b *Batch, sent []int, results []error) (bool, error) {
	fam := c.currentFamily()
	for attempt := 0; ; attempt++ {
		first := cn.seq + 1
		for k, i := range sent {
			flags := uint16(nlmsg.FlagRequest)
			if k == len(sent)-1 {
				flags |= nlmsg.FlagAck
			}
			nlmsg.SetHeader(b.buf[b.ops[i].off:], fam.id, flags, cn.next(), fam.version)
		}
		last := cn.seq
		refused := 0
		record := func(i int, ke *nlmsg.KernelError) {
			results[i] = b.fail(i, ke)
			if ke.Errno == syscall.ENOENT {
				refused++
			}
		}
		dgram := b.buf[b.ops[sent[0]].off:b.ops[sent[len(sent)-1]].end]
		// The answers to a datagram sent are always read: they are queued
		// by then, and they make every result exact.
		err := cn.exchange(context.WithoutCancel(ctx), dgram, first, last, fam.id, true, func(h nlmsg.Header, msg []byte) error {
			if h.Type != nlmsg.TypeError {
				return fmt.Errorf("unexpected message of type %d among the answers to a batch", h.Type)
			}
			errno, ke, err := nlmsg.ParseError(h.Flags, msg)
			if err != nil {
				return err
			}
			if errno != 0 {
				record(sent[h.Sequence-first], ke)
			}
			return nil
		})
		var ke *nlmsg.KernelError
		var unsent *notSentError
		switch {
		case errors.As(err, &ke):
			record(sent[len(sent)-1], ke)
		case errors.As(err, &unsent):
			return false, unsent.err
		case err != nil:
			for _, i := range sent {
				if results[i] == nil {
					results[i] = b.fail(i, ErrOutcomeUnknown)
				}
			}
			return true, err
		}
		if refused < len(sent) || attempt > 0 {
			return true, nil
		}
		changed, ferr := c.refreshFamily(ctx, cn, fam, nil)
		if !changed {
			return true, ferr
		}
		for _, i := range sent {
			results[i] = nil
		}
		fam = c.currentFamily()
	}
}

// errorAnswerCost is what an error answer costs in the receive buffer
// (an skb's true size), with room to spare.
const errorAnswerCost = 2048

// batchLimits bounds one datagram of a batch: its bytes, since the kernel
// refuses a datagram larger than the send buffer less 32 bytes (half of it
// leaves room for its accounting); and its messages, since the error
// answers to all of them must fit the receive buffer at once.
func batchLimits(s interface{ Buffers() (int, int) }) (maxBytes, maxMsgs int) {
	snd, rcv := s.Buffers()
	return min(max(snd/2, 256), 1<<20), max(rcv/errorAnswerCost, 1)
}
