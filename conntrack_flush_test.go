//go:build linux

package ipvs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
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
		w := attrWriter{}
		appendCTTuple(&w, ctaTupleOrig, e.proto, e.origSrc, e.origDst)
		k.byTuple[string(w.b)] = i
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
		case ctTypeGet:
			s.dump(h, msg)
		case ctTypeDelete:
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
		buf = nlmsg.AppendMessage(buf, ctTypeEntry, nlmsg.FlagMulti, h.Sequence, s.pid, k.payload[e.id])
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
	return eq(orig, ctFilterProto, "/1/2/1", []byte{e.proto}) && eq(orig, ctFilterIPDst, ipDst, dst) &&
		eq(orig, ctFilterDstPort, "/1/2/3", port(e.origDst.Port())) &&
		eq(reply, ctFilterProto, "/2/2/1", []byte{e.proto}) && eq(reply, ctFilterIPSrc, ipSrc, src) &&
		eq(reply, ctFilterSrcPort, "/2/2/2", port(e.replySrc.Port()))
}

// delete deletes the entry whose original tuple and ID the request
// carries, as ctnetlink_del_conntrack does.
func (s *ctFakeSocket) delete(msg []byte) syscall.Errno {
	k := s.k
	if k.deleteErrno != 0 {
		return k.deleteErrno
	}
	var tuple, id []byte
	a := attrs{b: msg, off: nlmsg.GenlHeaderLen}
	for a.next() {
		switch a.typ {
		case ctaTupleOrig:
			tuple = a.b[a.start-attrHeaderLen : a.end]
		case ctaID:
			id = a.data()
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

// flush runs a flush of the filters against the fake kernel, with
// sockets whose send buffers take sndbuf bytes.
func (k *ctFakeKernel) flush(sndbuf int, filters ...ConntrackFilter) (int, error) {
	m, err := newConntrackMatcher(filters)
	if err != nil {
		return 0, err
	}
	closed := new(atomic.Bool)
	f := &ctFlush{m: m,
		dump: newConn(k.socket(1, sndbuf), time.Second, DefaultReceiveBufferSize, closed),
		del:  newConn(k.socket(2, sndbuf), time.Second, DefaultReceiveBufferSize, closed)}
	err = f.run(context.Background())
	return f.deleted, err
}

// ctTable is a table of n flows to the UDP service 10.99.1.1:53, flow i
// answered by real server 10.97.(i%servers).2, among flows of the same
// servers to another service and protocol, and IPv6 flows.
func ctTable(n, servers int) []ctKernelEntry {
	var es []ctKernelEntry
	id := uint32(1)
	for i := range n {
		client := fmt.Sprintf("10.98.%d.%d:%d", i>>8&255, i&255, 1024+i>>16)
		real := fmt.Sprintf("10.97.%d.2:53", i%servers)
		es = append(es, ctFlow(17, client, "10.99.1.1:53", real, id))
		id++
		if i%10 == 0 {
			es = append(es, ctFlow(6, client, "10.99.1.1:53", real, id), ctFlow(17, client, "10.99.1.2:53", real, id+1),
				ctFlow(17, fmt.Sprintf("[fd00::%x:%x]:999", i>>16, i&0xffff+1), "[fd00::1]:53", fmt.Sprintf("[fd01::%d]:53", i%servers), id+2))
			id += 3
		}
	}
	return es
}

func ctBenchFilter(server int) ConntrackFilter {
	return ConntrackFilter{Service: Service{Protocol: ProtocolUDP, Address: netip.MustParseAddr("10.99.1.1"), Port: 53},
		Destination: Destination{Address: netip.AddrFrom4([4]byte{10, 97, byte(server), 2})}}
}

// ctLeft checks that the kernel's table holds exactly the entries of
// table that no filter selects.
func ctLeft(t *testing.T, k *ctFakeKernel, table []ctKernelEntry, filters ...ConntrackFilter) (gone int) {
	t.Helper()
	m, err := newConntrackMatcher(filters)
	if err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for _, e := range table {
		if m.match(e.proto, e.origDst, e.replySrc) {
			gone++
		} else {
			want = append(want, e.id)
		}
	}
	var got []uint32
	for _, e := range k.entries {
		got = append(got, e.id)
	}
	if !slices.Equal(got, want) {
		t.Errorf("%d entries left, want %d", len(got), len(want))
	}
	return gone
}

func TestFlushConntrackFake(t *testing.T) {
	table := ctTable(2000, 10)
	v6 := ConntrackFilter{Service: Service{Protocol: ProtocolUDP, Address: netip.MustParseAddr("fd00::1"), Port: 53},
		Destination: Destination{Address: netip.MustParseAddr("fd01::3")}}
	for _, tt := range []struct {
		name    string
		filters []ConntrackFilter
		setup   func(k *ctFakeKernel)
		sndbuf  int
		dumps   int
	}{
		{"one server: the kernel sends its entries only", []ConntrackFilter{ctBenchFilter(3)}, nil, 1 << 20, 1},
		{"three servers: one dump", []ConntrackFilter{ctBenchFilter(1), ctBenchFilter(2), ctBenchFilter(3)}, nil, 1 << 20, 1},
		{"both families: a dump each", []ConntrackFilter{ctBenchFilter(3), v6}, nil, 1 << 20, 2},
		{"a kernel without CTA_FILTER sends all", []ConntrackFilter{ctBenchFilter(3)},
			func(k *ctFakeKernel) { k.ignoreFilter = true }, 1 << 20, 1},
		{"a kernel that refuses the filter: once more without", []ConntrackFilter{ctBenchFilter(3)},
			func(k *ctFakeKernel) { first := true; k.refuse = func() bool { r := first; first = false; return r } }, 1 << 20, 1},
		{"small datagrams", []ConntrackFilter{ctBenchFilter(3)}, nil, 2048, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := newCTFakeKernel(t, table...)
			if tt.setup != nil {
				tt.setup(k)
			}
			n, err := k.flush(tt.sndbuf, tt.filters...)
			if err != nil {
				t.Fatal(err)
			}
			gone := ctLeft(t, k, table, tt.filters...)
			if n != gone {
				t.Errorf("flushed %d, want %d", n, gone)
			}
			if k.dumps != tt.dumps {
				t.Errorf("%d dumps, want %d", k.dumps, tt.dumps)
			}
			if !k.ignoreFilter && k.refuse == nil && len(tt.filters) == 1 && k.sent != gone {
				t.Errorf("the kernel sent %d entries for %d matches: the filter did not reach it", k.sent, gone)
			}
			// Deletes go many to a datagram, as many as its bytes allow.
			maxBytes, _ := batchLimits(k.socket(0, tt.sndbuf))
			perDatagram := maxBytes / 96
			if want := (gone + perDatagram - 1) / perDatagram; k.deleteDatagrams > want+1 {
				t.Errorf("%d entries deleted in %d datagrams (%v), want about %d", gone, k.deleteDatagrams, k.deletesInDatagram, want)
			}
		})
	}
}

// TestFlushConntrackGoneMeanwhile: entries that expire between the dump
// and their delete, and one whose tuple a new flow took (a new ID), are
// not counted, and the new flow's entry stays.
func TestFlushConntrackGoneMeanwhile(t *testing.T) {
	table := ctTable(300, 3)
	k := newCTFakeKernel(t, table...)
	var expired []uint32
	var replaced ctKernelEntry
	k.afterDump = func() {
		m, _ := newConntrackMatcher([]ConntrackFilter{ctBenchFilter(1)})
		var kept []ctKernelEntry
		for _, e := range k.entries {
			if m.match(e.proto, e.origDst, e.replySrc) {
				switch {
				case replaced.id == 0:
					e.id += 100000 // a new flow's entry with the same tuple
					replaced = e
				case len(expired) < 5:
					expired = append(expired, e.id)
					continue
				}
			}
			kept = append(kept, e)
		}
		k.entries = kept
		k.reindex()
		k.afterDump = nil
	}
	n, err := k.flush(1<<20, ctBenchFilter(1))
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, e := range table {
		if e.proto == 17 && e.origDst.Addr().Is4() && e.origDst.Addr() == netip.MustParseAddr("10.99.1.1") && e.replySrc.Addr() == netip.MustParseAddr("10.97.1.2") {
			want++
		}
	}
	if want -= 1 + len(expired); n != want {
		t.Errorf("flushed %d, want %d", n, want)
	}
	if !slices.ContainsFunc(k.entries, func(e ctKernelEntry) bool { return e.id == replaced.id }) {
		t.Error("the new flow's entry was deleted")
	}
}

// TestFlushConntrackErrors: the kernel's refusals come back with what
// they mean, and the count says what was deleted before.
func TestFlushConntrackErrors(t *testing.T) {
	t.Run("no ctnetlink", func(t *testing.T) {
		k := newCTFakeKernel(t, ctTable(10, 2)...)
		k.refuse = func() bool { return true }
		_, err := k.flush(1<<20, ctBenchFilter(1))
		if !errors.Is(err, ErrNoConntrack) || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("got %v, want ErrNoConntrack", err)
		}
	})
	t.Run("delete refused", func(t *testing.T) {
		k := newCTFakeKernel(t, ctTable(10, 2)...)
		k.deleteErrno = syscall.EPERM
		n, err := k.flush(1<<20, ctBenchFilter(1))
		if n != 0 || !errors.Is(err, os.ErrPermission) {
			t.Fatalf("got %d, %v; want 0 and a permission error", n, err)
		}
	})
}

// BenchmarkFlushConntrack reads a table of 100,000 entries over 10
// servers and deletes one server's, against the fake kernel: the
// flush's own cost, with the kernel filtering and without (a kernel
// before 5.8, or IPv6 addresses).
func BenchmarkFlushConntrack(b *testing.B) {
	table := ctTable(100000, 10)
	for _, filtering := range []bool{true, false} {
		b.Run(fmt.Sprintf("kernel-filter=%v", filtering), func(b *testing.B) {
			k := newCTFakeKernel(b, table...)
			k.keepDeleted, k.ignoreFilter = true, !filtering
			b.ReportAllocs()
			for b.Loop() {
				if n, err := k.flush(4<<20, ctBenchFilter(3)); err != nil || n != 10000 {
					b.Fatal(n, err)
				}
			}
		})
	}
}
