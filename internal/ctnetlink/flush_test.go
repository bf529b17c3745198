package ctnetlink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/seam"
)

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

// ctBenchFilter is the key of real server 10.97.server.2 of the UDP
// service 10.99.1.1:53.
func ctBenchFilter(server int) Key {
	return Key{Proto: 17, Virtual: netip.MustParseAddrPort("10.99.1.1:53"), Real: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 97, byte(server), 2}), 53)}
}

// ctLeft checks that the kernel's table holds exactly the entries of
// table that no key selects.
func ctLeft(t *testing.T, k *ctFakeKernel, table []ctKernelEntry, keys ...Key) (gone int) {
	t.Helper()
	m := NewMatcher(keys)
	var want []uint32
	for _, e := range table {
		if m.Match(e.proto, e.origDst, e.replySrc) {
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
	v6 := Key{Proto: 17, Virtual: netip.MustParseAddrPort("[fd00::1]:53"), Real: netip.MustParseAddrPort("[fd01::3]:53")}
	for _, tt := range []struct {
		name    string
		filters []Key
		setup   func(k *ctFakeKernel)
		sndbuf  int
		dumps   int
	}{
		{"one server: the kernel sends its entries only", []Key{ctBenchFilter(3)}, nil, 1 << 20, 1},
		{"three servers: one dump", []Key{ctBenchFilter(1), ctBenchFilter(2), ctBenchFilter(3)}, nil, 1 << 20, 1},
		{"both families: a dump each", []Key{ctBenchFilter(3), v6}, nil, 1 << 20, 2},
		{"a kernel without CTA_FILTER sends all", []Key{ctBenchFilter(3)},
			func(k *ctFakeKernel) { k.ignoreFilter = true }, 1 << 20, 1},
		{"a kernel that refuses the filter: once more without", []Key{ctBenchFilter(3)},
			func(k *ctFakeKernel) { first := true; k.refuse = func() bool { r := first; first = false; return r } }, 1 << 20, 1},
		{"small datagrams", []Key{ctBenchFilter(3)}, nil, 2048, 1},
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
			perDatagram := testFlush(nil, k.socket(0, tt.sndbuf), k.socket(0, tt.sndbuf)).MaxBytes / 96
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
		m := NewMatcher([]Key{ctBenchFilter(1)})
		var kept []ctKernelEntry
		for _, e := range k.entries {
			if m.Match(e.proto, e.origDst, e.replySrc) {
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
		if !errors.Is(err, syscall.EINVAL) || !strings.HasPrefix(err.Error(), "dump: ") {
			t.Fatalf("got %v, want the dump's EINVAL", err)
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

// TestFlushConntrackContext: the flush's context ends it before the next
// datagram, of the dump or of deletes; the entries deleted before are
// counted exactly, and nothing more is sent.
func TestFlushConntrackContext(t *testing.T) {
	table := ctTable(2000, 10)
	t.Run("ended before", func(t *testing.T) {
		k := newCTFakeKernel(t, table...)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n, err := k.flushCtx(ctx, 1<<20, ctBenchFilter(3))
		if n != 0 || !errors.Is(err, context.Canceled) || k.dumps != 0 || len(k.entries) != len(table) {
			t.Fatalf("flushed %d, %v, after %d dumps; want 0, context.Canceled, no dump", n, err, k.dumps)
		}
	})
	t.Run("ended after the first deletes", func(t *testing.T) {
		k := newCTFakeKernel(t, table...)
		k.perDatagram = 10
		ctx, cancel := context.WithCancel(context.Background())
		k.afterDeletes = cancel
		n, err := k.flushCtx(ctx, 2048, ctBenchFilter(3))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if k.deleteDatagrams != 1 || n != k.deletesInDatagram[0] || n == 0 || n >= len(table)/10 {
			t.Errorf("flushed %d in %d datagrams (%v), want the first datagram's, some of the %d", n, k.deleteDatagrams, k.deletesInDatagram, len(table)/10)
		}
		if gone := len(table) - len(k.entries); gone != n {
			t.Errorf("%d entries gone, %d counted", gone, n)
		}
	})
}

// FuzzFlushConntrack runs the flush against a kernel that answers
// anything: the dump's datagrams and the deletes' answers come from the
// input. It must end without panicking, and never count more entries
// deleted than it sent deletes. The seeds are the answers of the fake
// kernel to real flushes.
func FuzzFlushConntrack(f *testing.F) {
	for _, seed := range ctFlushSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		var dump, del [][]byte
		for len(script) >= 3 {
			n := min(int(binary.LittleEndian.Uint16(script[1:])), len(script)-3)
			if script[0]&1 == 0 {
				dump = append(dump, script[3:3+n])
			} else {
				del = append(del, script[3:3+n])
			}
			script = script[3+n:]
		}
		deletes := 0
		fl := ctScriptFlush(&ctScriptSocket{pid: 1, script: dump, deletes: &deletes},
			&ctScriptSocket{pid: 2, script: del, deletes: &deletes})
		_ = fl.Run(context.Background())
		if fl.Deleted < 0 || fl.Deleted > deletes {
			t.Fatalf("counted %d deleted of %d deletes sent", fl.Deleted, deletes)
		}
	})
}

// ctScriptFlush is a flush of two IPv4 servers' entries and an IPv6
// server's, over the sockets given.
func ctScriptFlush(dump, del seam.Socket) *Flush {
	v6 := Key{Proto: 17, Virtual: netip.MustParseAddrPort("[fd00::1]:53"), Real: netip.MustParseAddrPort("[fd01::1]:53")}
	return testFlush(NewMatcher([]Key{ctBenchFilter(1), ctBenchFilter(2), v6}), dump, del)
}

// ctScriptSocket answers whatever it is sent with the datagrams of a
// script, in order. Each message of a datagram gets the socket's port ID
// and a sequence number among the requests just sent (the script's
// number, counted from the first of them), so that the reader looks
// further than the header.
type ctScriptSocket struct {
	pid         uint32
	script      [][]byte
	first, last uint32
	deletes     *int // deletes sent, on either socket
}

func (s *ctScriptSocket) SetDeadline(time.Time) error { return nil }
func (s *ctScriptSocket) PortID() uint32              { return s.pid }
func (s *ctScriptSocket) Buffers() (int, int)         { return 4096, 1 << 20 }
func (s *ctScriptSocket) Close() error                { return nil }

func (s *ctScriptSocket) Send(b []byte, _ bool) error {
	s.first, s.last = 0, 0
	for off, i := 0, 0; off+nlmsg.HeaderLen <= len(b); i++ {
		h, err := nlmsg.ParseHeader(b[off:])
		if err != nil {
			return err
		}
		if i == 0 {
			s.first = h.Sequence
		}
		s.last = h.Sequence
		if h.Type == typeDelete {
			*s.deletes++
		}
		off += nlmsg.Align(int(h.Length))
	}
	return nil
}

func (s *ctScriptSocket) Recv(b []byte, wait bool) (int, error) {
	if len(s.script) == 0 {
		if !wait {
			return 0, seam.ErrWouldBlock
		}
		return 0, os.ErrDeadlineExceeded
	}
	d := s.script[0]
	s.script = s.script[1:]
	n := copy(b, d)
	ctEachHeader(b[:n], func(h []byte) {
		seq := binary.NativeEndian.Uint32(h[8:])
		binary.NativeEndian.PutUint32(h[8:], s.first+seq%(s.last-s.first+1))
		binary.NativeEndian.PutUint32(h[12:], s.pid)
	})
	return len(d), nil
}

// ctEachHeader calls fn with each netlink header that b frames.
func ctEachHeader(b []byte, fn func(h []byte)) {
	for off := 0; off+nlmsg.HeaderLen <= len(b); {
		fn(b[off : off+nlmsg.HeaderLen])
		l := int(binary.NativeEndian.Uint32(b[off:]))
		if l < nlmsg.HeaderLen {
			return
		}
		off += nlmsg.Align(l)
	}
}

// ctRecorder passes a fake kernel's socket through, and records what it
// answers as a fuzz script: a byte saying the socket (0 dump, 1 deletes),
// the length, the datagram, its sequence numbers counted from the first
// request of the datagram it answers.
type ctRecorder struct {
	*ctFakeSocket
	to    byte
	first uint32
	out   *[]byte
}

func (r *ctRecorder) Send(b []byte, wait bool) error {
	if h, err := nlmsg.ParseHeader(b); err == nil {
		r.first = h.Sequence
	}
	return r.ctFakeSocket.Send(b, wait)
}

func (r *ctRecorder) Recv(b []byte, wait bool) (int, error) {
	n, err := r.ctFakeSocket.Recv(b, wait)
	if err == nil {
		d := slices.Clone(b[:n])
		ctEachHeader(d, func(h []byte) {
			binary.NativeEndian.PutUint32(h[8:], binary.NativeEndian.Uint32(h[8:])-r.first)
		})
		*r.out = append(*r.out, r.to)
		*r.out = binary.LittleEndian.AppendUint16(*r.out, uint16(len(d)))
		*r.out = append(*r.out, d...)
	}
	return n, err
}

// ctFlushSeeds records the fake kernel's answers to flushes: a plain one,
// one whose deletes all find their entries gone, one whose kernel
// refuses the filter, and one whose kernel ignores it.
func ctFlushSeeds(t testing.TB) [][]byte {
	table := append(ctTable(40, 4), ctFlow(17, "[fd00::2]:999", "[fd00::1]:53", "[fd01::1]:53", 9999))
	var seeds [][]byte
	for _, setup := range []func(k *ctFakeKernel){
		func(*ctFakeKernel) {},
		func(k *ctFakeKernel) { k.deleteErrno = syscall.ENOENT },
		func(k *ctFakeKernel) { first := true; k.refuse = func() bool { r := first; first = false; return r } },
		func(k *ctFakeKernel) { k.ignoreFilter = true },
	} {
		k := newCTFakeKernel(t, table...)
		k.perDatagram = 4
		setup(k)
		var out []byte
		fl := ctScriptFlush(&ctRecorder{k.socket(1, 4096), 0, 0, &out}, &ctRecorder{k.socket(2, 4096), 1, 0, &out})
		if err := fl.Run(context.Background()); err != nil && k.deleteErrno == 0 {
			t.Fatal(err)
		}
		seeds = append(seeds, out)
	}
	return seeds
}
