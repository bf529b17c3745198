package ipvstest

import (
	"encoding/binary"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// Message-level helpers: requests built by hand, as a client of any make
// would send them, and the raw replies read back.

// rawConn is one socket of a Fake, spoken to in bytes.
type rawConn struct {
	t   testing.TB
	f   *Fake
	s   *fakekernel.Socket
	seq uint32
	buf []byte
}

func newRawConn(t testing.TB, f *Fake) *rawConn {
	s, err := f.k.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &rawConn{t: t, f: f, s: s.(*fakekernel.Socket), buf: make([]byte, 64<<10)}
}

// reply is what came back for one request.
type reply struct {
	hdrs  []nlmsg.Header
	msgs  [][]byte // genl payloads of the data messages
	errno syscall.Errno
	ext   []byte // the TLVs of an extended ACK
	dgram int    // datagrams read
}

// message builds one request of the IPVS family.
func (c *rawConn) message(typ uint16, cmd uint8, flags uint16, body func(w *fakekernel.Writer)) []byte {
	c.seq++
	w := fakekernel.GenlMsg(cmd, ipvsh.GenlVersion)
	if body != nil {
		body(&w)
	}
	return nlmsg.AppendMessage(nil, typ, flags|nlmsg.FlagRequest, c.seq, c.s.PortID(), w.B)
}

// do sends one request and reads its replies to the end: the ACK or
// error, the single reply of a GET, or NLMSG_DONE.
func (c *rawConn) do(cmd uint8, flags uint16, body func(w *fakekernel.Writer)) reply {
	c.t.Helper()
	id, _ := c.f.k.Family()
	return c.doType(id, cmd, flags, body)
}

func (c *rawConn) doType(typ uint16, cmd uint8, flags uint16, body func(w *fakekernel.Writer)) reply {
	c.t.Helper()
	if err := c.s.Send(c.message(typ, cmd, flags, body), true); err != nil {
		c.t.Fatal(err)
	}
	var r reply
	for {
		if err := c.s.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			c.t.Fatal(err)
		}
		n, err := c.s.Recv(c.buf, true)
		if err != nil {
			c.t.Fatalf("cmd %d: %v", cmd, err)
		}
		r.dgram++
		b := c.buf[:n]
		for len(b) >= nlmsg.HeaderLen {
			h, err := nlmsg.ParseHeader(b)
			if err != nil {
				c.t.Fatal(err)
			}
			if h.Sequence != c.seq || h.PID != c.s.PortID() {
				c.t.Fatalf("reply seq %d pid %d, want %d %d", h.Sequence, h.PID, c.seq, c.s.PortID())
			}
			p := b[nlmsg.HeaderLen:h.Length]
			b = b[nlmsg.Align(int(h.Length)):]
			r.hdrs = append(r.hdrs, h)
			switch h.Type {
			case nlmsg.TypeError:
				r.errno = syscall.Errno(-int32(binary.NativeEndian.Uint32(p)))
				r.ext = p[4+nlmsg.HeaderLen:]
				return r
			case nlmsg.TypeDone:
				return r
			default:
				r.msgs = append(r.msgs, append([]byte(nil), p...))
				if h.Flags&nlmsg.FlagMulti == 0 && flags&nlmsg.FlagAck == 0 {
					return r
				}
			}
		}
	}
}

// must runs a write with an ACK and fails the test unless it succeeds.
func (c *rawConn) must(cmd uint8, body func(w *fakekernel.Writer)) {
	c.t.Helper()
	if r := c.do(cmd, nlmsg.FlagAck, body); r.errno != 0 {
		c.t.Fatalf("cmd %d: %v", cmd, r.errno)
	}
}

// svcSpec is a service as a request carries it.
type svcSpec struct {
	af       uint16
	proto    uint16
	addr     string
	port     uint16
	fwmark   uint32
	sched    string
	pe       string
	flags    uint32
	mask     uint32
	timeout  uint32
	netmask  []byte // the attribute's 4 bytes as sent
	identity bool   // only the identifying attributes
}

func (s svcSpec) put(w *fakekernel.Writer) {
	w.Nest(ipvsh.CmdAttrService, func() {
		w.U16(ipvsh.SvcAttrAF, s.af)
		if s.fwmark != 0 {
			w.U32(ipvsh.SvcAttrFwmark, s.fwmark)
		} else {
			w.U16(ipvsh.SvcAttrProtocol, s.proto)
			a := fakekernel.Addr16(netip.MustParseAddr(s.addr))
			if s.af == ipvsh.AFInet {
				w.Bytes(ipvsh.SvcAttrAddr, a[:4])
			} else {
				w.Bytes(ipvsh.SvcAttrAddr, a[:])
			}
			w.BE16(ipvsh.SvcAttrPort, s.port)
		}
		if s.identity {
			return
		}
		w.Str(ipvsh.SvcAttrSchedName, s.sched)
		if s.pe != "" {
			w.Str(ipvsh.SvcAttrPEName, s.pe)
		}
		w.Bytes(ipvsh.SvcAttrFlags, binary.NativeEndian.AppendUint32(binary.NativeEndian.AppendUint32(nil, s.flags), s.mask))
		w.U32(ipvsh.SvcAttrTimeout, s.timeout)
		nm := s.netmask
		if nm == nil {
			nm = []byte{255, 255, 255, 255}
		}
		w.Bytes(ipvsh.SvcAttrNetmask, nm)
	})
}

func (s svcSpec) id() svcSpec { s.identity = true; return s }

// destSpec is a destination as a request carries it.
type destSpec struct {
	af               uint16 // 0: no ADDR_FAMILY attribute
	addr             string
	port             uint16
	fwd, weight      uint32
	uthresh, lthresh uint32
	tunType          int // -1: no tunnel attributes
	tunPort          uint16
	tunFlags         uint16
	identity         bool
}

func (d destSpec) put(w *fakekernel.Writer) {
	w.Nest(ipvsh.CmdAttrDest, func() {
		a := fakekernel.Addr16(netip.MustParseAddr(d.addr))
		w.Bytes(ipvsh.DestAttrAddr, a[:])
		w.BE16(ipvsh.DestAttrPort, d.port)
		if d.af != 0 {
			w.U16(ipvsh.DestAttrAddrFamily, d.af)
		}
		if d.identity {
			return
		}
		w.U32(ipvsh.DestAttrFwdMethod, d.fwd)
		w.U32(ipvsh.DestAttrWeight, d.weight)
		w.U32(ipvsh.DestAttrUThresh, d.uthresh)
		w.U32(ipvsh.DestAttrLThresh, d.lthresh)
		if d.tunType >= 0 {
			w.U8(ipvsh.DestAttrTunType, uint8(d.tunType))
			w.BE16(ipvsh.DestAttrTunPort, d.tunPort)
			w.U16(ipvsh.DestAttrTunFlags, d.tunFlags)
		}
	})
}

func both(s svcSpec, d destSpec) func(w *fakekernel.Writer) {
	return func(w *fakekernel.Writer) { s.put(w); d.put(w) }
}

// daemonSpec is a sync daemon as NEW_DAEMON carries it.
type daemonSpec struct {
	state  uint32
	ifname string
	syncID uint32
	maxLen uint16
	group  string
	port   uint16
	ttl    uint8
}

func (d daemonSpec) put(w *fakekernel.Writer) {
	w.Nest(ipvsh.CmdAttrDaemon, func() {
		w.U32(ipvsh.DaemonAttrState, d.state)
		w.Str(ipvsh.DaemonAttrMcastIfn, d.ifname)
		w.U32(ipvsh.DaemonAttrSyncID, d.syncID)
		if d.maxLen != 0 {
			w.U16(ipvsh.DaemonAttrSyncMaxlen, d.maxLen)
		}
		if g := netip.MustParseAddr(d.group); g.Is4() {
			v := g.As4()
			w.Bytes(ipvsh.DaemonAttrMcastGroup, v[:])
		} else {
			v := g.As16()
			w.Bytes(ipvsh.DaemonAttrMcastGroup6, v[:])
		}
		w.U16(ipvsh.DaemonAttrMcastPort, d.port)
		w.U8(ipvsh.DaemonAttrMcastTTL, d.ttl)
	})
}

func stateOnly(state uint32) func(w *fakekernel.Writer) {
	return func(w *fakekernel.Writer) {
		w.Nest(ipvsh.CmdAttrDaemon, func() { w.U32(ipvsh.DaemonAttrState, state) })
	}
}
