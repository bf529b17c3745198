package ipvs

import (
	"net/netip"
	"sync/atomic"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// Batch is a list of writes for Client.Apply, which sends them together.
// Each write is checked and encoded when it is added, into one buffer
// that Apply then sends in slices, so a batch of many thousand writes
// costs little more than its bytes. The zero Batch is empty and ready to
// use; a Batch may be reused after Reset, and applied again.
//
// Apply fills in the requests' headers where they lie, in the Batch, so
// that it copies nothing: while one Apply runs, another of the same Batch
// fails at once (the Batch says it is in use), and adding to it or
// resetting it is a data race. A Batch must not be copied.
type Batch struct {
	applying atomic.Bool // an Apply of it runs

	buf  []byte // the requests, back to back; Apply fills in their headers
	ops  []batchOp
	svcs []ServiceKey  // the services the writes name, each run of writes to one service sharing one
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
	w := nlmsg.AttrWriter{B: b.buf}
	if full {
		svc.encodeNest(&w, k)
	} else {
		w.B = append(w.B, b.lastNest...)
	}
	b.finish(kind, nil, w.B, off)
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
	w := nlmsg.AttrWriter{B: append(b.buf, b.lastNest...)}
	encodeDestinationNest(&w, dk, dst, full)
	b.finish(kind, &dk, w.B, off)
}

// service makes k the service of the next write: the last one's, or a new
// one, checked and encoded once.
func (b *Batch) service(k ServiceKey) {
	if n := len(b.svcs); n > 0 && b.svcs[n-1] == k {
		return
	}
	b.svcs = append(b.svcs, k)
	w := nlmsg.AttrWriter{B: b.lastNest[:0]}
	k.encodeNest(&w)
	b.lastErr, b.lastNest = k.validate(), w.B
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
