package ipvs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"syscall"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

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

var (
	errNilBatch   = errors.New("the batch is nil")
	errBatchInUse = errors.New("the batch is being applied by another call: Apply writes into it")
)

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
	if !b.applying.CompareAndSwap(false, true) {
		return nil, &Error{Op: opApply, Err: errBatchInUse}
	}
	defer b.applying.Store(false)
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
