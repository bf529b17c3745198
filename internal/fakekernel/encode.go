package fakekernel

import (
	"encoding/binary"
	"net/netip"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The kernel's reply encoders (ip_vs_genl_fill_*), attribute by attribute
// in its order and widths, as captured from Linux 5.10 to 7.2: 16-byte
// addresses, nests without NLA_F_NESTED, STATS and STATS64 in every
// service and destination, and no PAD attributes (as on x86-64). They
// encode plain values, so that the tests of package ipvs (which cannot
// import a package that imports it) and ipvstest's model share them.

// Service is a service as the kernel holds it for a reply.
type Service struct {
	AF, Protocol uint16
	Addr         netip.Addr // sent as 16 bytes, zero if invalid
	Port         uint16
	FWMark       uint32
	Sched, PE    string
	Flags        uint32
	Timeout      uint32 // seconds
	// Netmask is as the kernel holds it: an IPv4 mask in network order,
	// or an IPv6 prefix length in host order.
	Netmask [4]byte
	Stats   Stats
}

// Dest is a destination as the kernel holds it for a reply.
type Dest struct {
	AF                        uint16
	Addr                      netip.Addr // sent as 16 bytes
	Port                      uint16
	Fwd, Weight               uint32
	UThresh, LThresh          uint32
	TunType                   uint8
	TunPort, TunFlags         uint16
	Active, Inactive, Persist uint32
	Stats                     Stats
}

// Daemon is a sync daemon as the kernel holds it for a reply. A Group
// that is not valid is not written.
type Daemon struct {
	State  uint32
	Ifname string
	SyncID uint32
	MaxLen uint16
	Group  netip.Addr
	Port   uint16
	TTL    uint8
}

// Stats are the counters of a service or destination; their fields are
// those of ipvs.Stats, so that one converts to the other.
type Stats struct {
	Connections, InPackets, OutPackets, InBytes, OutBytes                uint64
	ConnectionRate, InPacketRate, OutPacketRate, InByteRate, OutByteRate uint64
}

// Timeouts are the connection timeouts, in seconds.
type Timeouts struct{ TCP, TCPFin, UDP uint32 }

// Options make replies that the tested kernels do not send, but that the
// client must read as well. The zero Options encode as the kernel does.
type Options struct {
	// Pad writes a PAD attribute before each 64-bit counter, as kernels
	// of architectures without efficient unaligned access do.
	Pad bool
	// Unknown adds attributes of types the client does not know, as a
	// newer kernel might.
	Unknown bool
	// No64 leaves STATS64 out, as kernels before 4.1 do.
	No64 bool
	// OmitZero writes every field that is not zero, whatever the kernel
	// leaves out, and none that is (but a service's flags, timeout and
	// netmask, and a destination's settings, which the kernel always
	// sends); counters only as STATS64. Zero timeouts are left out, as a
	// kernel built without that protocol does.
	OmitZero bool
}

// GenlMsg starts a Generic Netlink payload: the command, the version and
// the reserved field.
func GenlMsg(cmd, version uint8) Writer {
	b := make([]byte, 4, 320) // a service's message is about 300 bytes
	b[0], b[1] = cmd, version
	return Writer{nlmsg.AttrWriter{B: b}}
}

// Service returns the payload of the NEW_SERVICE message describing s.
func (o Options) Service(s *Service) []byte {
	w := GenlMsg(ipvsh.CmdNewService, ipvsh.GenlVersion)
	w.Nest(ipvsh.CmdAttrService, func() {
		if o.OmitZero {
			o.serviceIdentityNonZero(&w, s)
		} else {
			w.U16(ipvsh.SvcAttrAF, s.AF)
			if s.FWMark != 0 {
				w.U32(ipvsh.SvcAttrFwmark, s.FWMark)
			} else {
				w.U16(ipvsh.SvcAttrProtocol, s.Protocol)
				a := Addr16(s.Addr)
				w.Bytes(ipvsh.SvcAttrAddr, a[:])
				w.BE16(ipvsh.SvcAttrPort, s.Port)
			}
			w.Str(ipvsh.SvcAttrSchedName, s.Sched)
		}
		if s.PE != "" {
			w.Str(ipvsh.SvcAttrPEName, s.PE)
		}
		w.Header(ipvsh.SvcAttrFlags, 8)
		w.B = binary.NativeEndian.AppendUint32(w.B, s.Flags)
		w.B = binary.NativeEndian.AppendUint32(w.B, ^uint32(0))
		if o.Unknown {
			w.U32(30, 0xdeadbeef)
		}
		w.U32(ipvsh.SvcAttrTimeout, s.Timeout)
		w.Bytes(ipvsh.SvcAttrNetmask, s.Netmask[:])
		o.stats(&w, ipvsh.SvcAttrStats, ipvsh.SvcAttrStats64, s.Stats)
	})
	if o.Unknown {
		w.U32(20, 1)
	}
	return w.B
}

// serviceIdentityNonZero writes the identity and scheduler of s, each
// only if it is not zero.
func (o Options) serviceIdentityNonZero(w *Writer, s *Service) {
	if s.AF != 0 {
		w.U16(ipvsh.SvcAttrAF, s.AF)
	}
	if s.Protocol != 0 {
		w.U16(ipvsh.SvcAttrProtocol, s.Protocol)
	}
	if s.Addr.IsValid() {
		w.Bytes(ipvsh.SvcAttrAddr, s.Addr.AsSlice())
	}
	if s.Port != 0 {
		w.BE16(ipvsh.SvcAttrPort, s.Port)
	}
	if s.FWMark != 0 {
		w.U32(ipvsh.SvcAttrFwmark, s.FWMark)
	}
	if s.Sched != "" {
		w.Str(ipvsh.SvcAttrSchedName, s.Sched)
	}
}

// Dest returns the payload of the NEW_DEST message describing d.
func (o Options) Dest(d *Dest) []byte {
	w := GenlMsg(ipvsh.CmdNewDest, ipvsh.GenlVersion)
	w.Nest(ipvsh.CmdAttrDest, func() {
		if !o.OmitZero || d.Addr.IsValid() {
			a := Addr16(d.Addr)
			w.Bytes(ipvsh.DestAttrAddr, a[:])
		}
		w.BE16(ipvsh.DestAttrPort, d.Port)
		w.U32(ipvsh.DestAttrFwdMethod, d.Fwd)
		w.U32(ipvsh.DestAttrWeight, d.Weight)
		w.U8(ipvsh.DestAttrTunType, d.TunType)
		w.BE16(ipvsh.DestAttrTunPort, d.TunPort)
		w.U16(ipvsh.DestAttrTunFlags, d.TunFlags)
		w.U32(ipvsh.DestAttrUThresh, d.UThresh)
		w.U32(ipvsh.DestAttrLThresh, d.LThresh)
		w.U32(ipvsh.DestAttrActiveConns, d.Active)
		w.U32(ipvsh.DestAttrInactConns, d.Inactive)
		w.U32(ipvsh.DestAttrPersistConns, d.Persist)
		if o.Unknown {
			w.U64(40, 7)
		}
		w.U16(ipvsh.DestAttrAddrFamily, d.AF)
		o.stats(&w, ipvsh.DestAttrStats, ipvsh.DestAttrStats64, d.Stats)
	})
	return w.B
}

// stats writes STATS, whose counters other than the byte counts the
// kernel truncates to 32 bits, and STATS64.
func (o Options) stats(w *Writer, typ32, typ64 uint16, s Stats) {
	if o.OmitZero {
		if s != (Stats{}) {
			o.statsNest(w, typ64, s, true)
		}
		return
	}
	o.statsNest(w, typ32, s, false)
	if !o.No64 {
		o.statsNest(w, typ64, s, true)
	}
}

func (o Options) statsNest(w *Writer, typ uint16, s Stats, wide bool) {
	w.Nest(typ, func() {
		for i, v := range [...]uint64{s.Connections, s.InPackets, s.OutPackets, s.InBytes, s.OutBytes,
			s.ConnectionRate, s.InPacketRate, s.OutPacketRate, s.InByteRate, s.OutByteRate} {
			t := uint16(ipvsh.StatsAttrConns + i)
			if wide || t == ipvsh.StatsAttrInBytes || t == ipvsh.StatsAttrOutBytes {
				if o.Pad {
					w.Bytes(ipvsh.StatsAttrPad, nil)
				}
				w.U64(t, v)
			} else {
				w.U32(t, uint32(v))
			}
		}
	})
}

// Daemon returns the payload of the NEW_DAEMON message describing d.
func (o Options) Daemon(d *Daemon) []byte {
	w := GenlMsg(ipvsh.CmdNewDaemon, ipvsh.GenlVersion)
	w.Nest(ipvsh.CmdAttrDaemon, func() {
		w.U32(ipvsh.DaemonAttrState, d.State)
		w.Str(ipvsh.DaemonAttrMcastIfn, d.Ifname)
		w.U32(ipvsh.DaemonAttrSyncID, d.SyncID)
		w.U16(ipvsh.DaemonAttrSyncMaxlen, d.MaxLen)
		w.U16(ipvsh.DaemonAttrMcastPort, d.Port)
		w.U8(ipvsh.DaemonAttrMcastTTL, d.TTL)
		if d.Group.Is4() {
			w.Bytes(ipvsh.DaemonAttrMcastGroup, d.Group.AsSlice())
		} else if d.Group.IsValid() {
			w.Bytes(ipvsh.DaemonAttrMcastGroup6, d.Group.AsSlice())
		}
	})
	return w.B
}

// Info returns the payload of the SET_INFO reply to GET_INFO.
func Info(version, connTabSize uint32) []byte {
	w := GenlMsg(ipvsh.CmdSetInfo, ipvsh.GenlVersion)
	w.U32(ipvsh.InfoAttrVersion, version)
	w.U32(ipvsh.InfoAttrConnTabSize, connTabSize)
	return w.B
}

// Config returns the payload of the SET_CONFIG reply to GET_CONFIG.
func (o Options) Config(t Timeouts) []byte {
	w := GenlMsg(ipvsh.CmdSetConfig, ipvsh.GenlVersion)
	for _, a := range [...]struct {
		typ uint16
		v   uint32
	}{{ipvsh.CmdAttrTimeoutTCP, t.TCP}, {ipvsh.CmdAttrTimeoutTCPFin, t.TCPFin}, {ipvsh.CmdAttrTimeoutUDP, t.UDP}} {
		if a.v != 0 || !o.OmitZero {
			w.U32(a.typ, a.v)
		}
	}
	return w.B
}
