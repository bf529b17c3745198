package ctnetlink

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

// ctFakeKernel is ctnetlink as the flush meets it, over sockets of its
// own: a table of entries, a dump that filters by CTA_FILTER as Linux
// 5.8+ does (or ignores it, as older kernels do, or refuses it), and
// deletes by original tuple and ID, each answered as the kernel answers,
// an error for each refused one and an ACK when asked. The kernel tests
// in the VM are the judge; this one lets the host test the flush's own
// logic: one dump, batches, counts, fallbacks.
type ctFakeKernel struct {
	t       testing.TB
	entries []ctKernelEntry
	payload map[uint32][]byte // by ID, built once
	byTuple map[string]int    // the index in entries of each original tuple
	dumpBuf []byte            // the datagrams of the last dump, back to back

	ignoreFilter bool        // a kernel before 5.8
	refuse       func() bool // true: refuse the next dump request with EINVAL
	deleteErrno  syscall.Errno
	keepDeleted  bool   // deletes succeed and change nothing (benchmarks)
	afterDump    func() // runs once a dump's reply is queued, before any delete
	afterDeletes func() // runs after each datagram of deletes

	perDatagram       int
	dumps, sent       int // dump requests answered, entries sent
	deleteDatagrams   int
	deletesInDatagram []int
}

func newCTFakeKernel(t testing.TB, entries ...ctKernelEntry) *ctFakeKernel {
	k := &ctFakeKernel{t: t, entries: slices.Clone(entries), payload: map[uint32][]byte{}, perDatagram: 100}
	for _, e := range entries {
		k.payload[e.id] = e.payload()
	}
	k.reindex()
	return k
}

// reindex indexes the entries by original tuple, after a change.
func (k *ctFakeKernel) reindex() {
	k.byTuple = make(map[string]int, len(k.entries))
	for i, e := range k.entries {
		w := nlmsg.AttrWriter{}
		appendCTTuple(&w, ctaTupleOrig, e.proto, e.origSrc, e.origDst)
		k.byTuple[string(w.B)] = i
	}
}

// ctFakeSocket is one socket of the fake kernel.
type ctFakeSocket struct {
	k       *ctFakeKernel
	pid     uint32
	snd     int
	pending [][]byte
}

func (k *ctFakeKernel) socket(pid uint32, sndbuf int) *ctFakeSocket {
	return &ctFakeSocket{k: k, pid: pid, snd: sndbuf}
}

func (s *ctFakeSocket) SetDeadline(time.Time) error { return nil }
func (s *ctFakeSocket) PortID() uint32              { return s.pid }
func (s *ctFakeSocket) Buffers() (int, int)         { return s.snd, 4 << 20 }
func (s *ctFakeSocket) Close() error                { return nil }

func (s *ctFakeSocket) Recv(b []byte, wait bool) (int, error) {
	if len(s.pending) == 0 {
		if !wait {
			return 0, seam.ErrWouldBlock
		}
		return 0, os.ErrDeadlineExceeded // the flush waited for nothing
	}
	d := s.pending[0]
	s.pending = s.pending[1:]
	return copy(b, d), nil
}

func (s *ctFakeSocket) answer(h nlmsg.Header, errno syscall.Errno) {
	p := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	p = append(p, make([]byte, nlmsg.HeaderLen)...) // the request's header, capped
	s.pending = append(s.pending, nlmsg.AppendMessage(nil, nlmsg.TypeError, nlmsg.FlagCapped, h.Sequence, s.pid, p))
}

func (s *ctFakeSocket) Send(b []byte, _ bool) error {
	k := s.k
	deletes := 0
	for len(b) > 0 {
		h, err := nlmsg.ParseHeader(b)
		if err != nil {
			k.t.Errorf("fake kernel: %v", err)
			return err
		}
		msg := b[nlmsg.HeaderLen:h.Length]
		b = b[min(nlmsg.Align(int(h.Length)), len(b)):]
		switch h.Type {
		case typeGet:
			s.dump(h, msg)
		case typeDelete:
			deletes++
			errno := s.delete(msg)
			if errno != 0 || h.Flags&nlmsg.FlagAck != 0 {
				s.answer(h, errno)
			}
		default:
			k.t.Errorf("fake kernel: message type %#x", h.Type)
		}
	}
	if deletes > 0 {
		k.deleteDatagrams++
		k.deletesInDatagram = append(k.deletesInDatagram, deletes)
		if k.afterDeletes != nil {
			k.afterDeletes()
		}
	}
	return nil
}

// dump queues the reply to a dump request: the entries of its family
// that its filter lets through, perDatagram to a datagram, then DONE.
func (s *ctFakeSocket) dump(h nlmsg.Header, msg []byte) {
	k := s.k
	if k.refuse != nil && k.refuse() {
		s.answer(h, syscall.EINVAL)
		return
	}
	k.dumps++
	family := msg[0]
	origFlags, replyFlags, fields := ctDumpAttrs(k.t, msg[nlmsg.GenlHeaderLen:])
	if k.ignoreFilter {
		origFlags, replyFlags = 0, 0
	}
	buf, start, n := k.dumpBuf[:0], 0, 0
	var ends []int
	for _, e := range k.entries {
		if e.family() != family || !ctFakeMatch(e, origFlags, replyFlags, fields) {
			continue
		}
		buf = nlmsg.AppendMessage(buf, TypeEntry, nlmsg.FlagMulti, h.Sequence, s.pid, k.payload[e.id])
		k.sent++
		if n++; n == k.perDatagram {
			ends, n = append(ends, len(buf)), 0
		}
	}
	buf = nlmsg.AppendMessage(buf, nlmsg.TypeDone, nlmsg.FlagMulti, h.Sequence, s.pid, []byte{0, 0, 0, 0})
	k.dumpBuf = buf
	for _, end := range append(ends, len(buf)) {
		s.pending = append(s.pending, buf[start:end])
		start = end
	}
	if k.afterDump != nil {
		k.afterDump()
	}
}

// ctFakeMatch is ctnetlink_filter_match for the fields the flush uses.
func ctFakeMatch(e ctKernelEntry, orig, reply uint32, f map[string][]byte) bool {
	eq := func(flags, flag uint32, field string, v []byte) bool {
		return flags&flag == 0 || bytes.Equal(f[field], v)
	}
	port := func(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }
	dst, src := e.origDst.Addr().AsSlice(), e.replySrc.Addr().AsSlice()
	ipDst, ipSrc := "/1/1/2", "/2/1/1"
	if !e.origDst.Addr().Is4() {
		ipDst, ipSrc = "/1/1/4", "/2/1/3"
	}
	return eq(orig, filterProto, "/1/2/1", []byte{e.proto}) && eq(orig, FilterIPDst, ipDst, dst) &&
		eq(orig, filterDstPort, "/1/2/3", port(e.origDst.Port())) &&
		eq(reply, filterProto, "/2/2/1", []byte{e.proto}) && eq(reply, FilterIPSrc, ipSrc, src) &&
		eq(reply, filterSrcPort, "/2/2/2", port(e.replySrc.Port()))
}

// delete deletes the entry whose original tuple and ID the request
// carries, as ctnetlink_del_conntrack does.
func (s *ctFakeSocket) delete(msg []byte) syscall.Errno {
	k := s.k
	if k.deleteErrno != 0 {
		return k.deleteErrno
	}
	var tuple, id []byte
	a := nlmsg.NewAttrReader(msg[nlmsg.GenlHeaderLen:])
	for a.Next() {
		switch a.Type() {
		case ctaTupleOrig:
			tuple = a.Attr()
		case ctaID:
			id = a.Data()
		}
	}
	if tuple == nil || len(id) != 4 {
		k.t.Errorf("fake kernel: a delete without a tuple or an ID: %x", msg)
		return syscall.EINVAL
	}
	i, ok := k.byTuple[string(tuple)]
	switch {
	case !ok:
		return syscall.ENOENT
	case k.entries[i].id != binary.BigEndian.Uint32(id):
		return syscall.ENOENT // another flow's entry took the tuple
	}
	if !k.keepDeleted {
		k.entries = slices.Delete(k.entries, i, i+1)
		k.reindex()
	}
	return 0
}

// flush runs a flush of the keys against the fake kernel, with sockets
// whose send buffers take sndbuf bytes.
func (k *ctFakeKernel) flush(sndbuf int, keys ...Key) (int, error) {
	return k.flushCtx(context.Background(), sndbuf, keys...)
}

// flushCtx is flush under ctx.
func (k *ctFakeKernel) flushCtx(ctx context.Context, sndbuf int, keys ...Key) (int, error) {
	f := testFlush(NewMatcher(keys), k.socket(1, sndbuf), k.socket(2, sndbuf))
	err := f.Run(ctx)
	return f.Deleted, err
}

// testFlush is a flush of m over the sockets given, with the limits the
// client computes from the delete socket's buffers, and errors wrapped
// with their step, as the client wraps them.
func testFlush(m *Matcher, dump, del seam.Socket) *Flush {
	snd, rcv := del.Buffers()
	return &Flush{Dump: newTestConn(dump), Delete: newTestConn(del), Matcher: m, KernelFilter: true,
		MaxBytes: min(max(snd/2, 256), 1<<20), MaxN: max(rcv/2048, 1),
		Wrap: func(step string, err error) error { return fmt.Errorf("%s: %w", step, err) }}
}

// testConn is the client's exchange as the flush sees it, in brief: the
// context checked before each datagram sent or read, the reader of
// internal/nlmsg.
type testConn struct {
	sock seam.Socket
	seq  uint32
	rd   nlmsg.Reader
	ctx  context.Context // of the exchange in progress
}

func newTestConn(s seam.Socket) *testConn {
	c := &testConn{sock: s, seq: 1000}
	c.rd.Init(func(b []byte) (int, error) {
		if err := c.ctx.Err(); err != nil {
			return 0, err
		}
		return s.Recv(b, true)
	}, make([]byte, 64<<10), s.PortID())
	return c
}

func (c *testConn) Next() uint32 {
	c.seq++
	return c.seq
}

func (c *testConn) Exchange(ctx context.Context, b []byte, first, last uint32, typ uint16, ack bool, each func(nlmsg.Header, []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.sock.Send(b, true); err != nil {
		return err
	}
	c.ctx = ctx
	c.rd.Reset(first, last, typ, ack)
	for {
		h, msg, err := c.rd.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := each(h, msg); err != nil {
			return err
		}
	}
}
