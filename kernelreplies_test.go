package ipvs

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// The kernel's encoders, for replies. They follow the attribute order and
// widths the kernel uses (checked against Linux 6.1): 16-byte addresses,
// no NLA_F_NESTED, STATS and STATS64 in every service and destination.

type replyOptions struct {
	pad     bool // a PAD attribute before each 64-bit counter
	unknown bool // attributes of types this package does not know
	no64    bool // STATS only, as kernels before 4.1 send
}

func genlMessage(cmd uint8, body func(w *attrWriter)) []byte {
	w := attrWriter{b: []byte{cmd, ipvsh.GenlVersion, 0, 0}}
	body(&w)
	return w.b
}

func kernelNest(w *attrWriter, typ uint16, body func()) {
	off := len(w.b)
	w.header(typ, 0)
	body()
	w.end(off)
}

func kernelAddr(w *attrWriter, typ uint16, a netip.Addr) {
	var b [16]byte
	if a.Is4() {
		v := a.As4()
		copy(b[:], v[:])
	} else if a.IsValid() {
		b = a.As16()
	}
	w.bytes(typ, b[:])
}

func kernelStats(w *attrWriter, typ uint16, s Stats, is64 bool, o replyOptions) {
	kernelNest(w, typ, func() {
		put := func(t uint16, v uint64, wide bool) {
			if wide || is64 {
				if o.pad {
					w.bytes(ipvsh.StatsAttrPad, nil)
				}
				w.u64(t, v)
				return
			}
			w.u32(t, uint32(v))
		}
		put(ipvsh.StatsAttrConns, s.Connections, false)
		put(ipvsh.StatsAttrInPkts, s.InPackets, false)
		put(ipvsh.StatsAttrOutPkts, s.OutPackets, false)
		put(ipvsh.StatsAttrInBytes, s.InBytes, true)
		put(ipvsh.StatsAttrOutBytes, s.OutBytes, true)
		put(ipvsh.StatsAttrCPS, s.ConnectionRate, false)
		put(ipvsh.StatsAttrInPPS, s.InPacketRate, false)
		put(ipvsh.StatsAttrOutPPS, s.OutPacketRate, false)
		put(ipvsh.StatsAttrInBPS, s.InByteRate, false)
		put(ipvsh.StatsAttrOutBPS, s.OutByteRate, false)
	})
}

func kernelService(s Service, o replyOptions) []byte {
	return genlMessage(ipvsh.CmdNewService, func(w *attrWriter) {
		kernelNest(w, ipvsh.CmdAttrService, func() {
			w.u16(ipvsh.SvcAttrAF, uint16(s.Family))
			if s.FWMark != 0 {
				w.u32(ipvsh.SvcAttrFwmark, s.FWMark)
			} else {
				w.u16(ipvsh.SvcAttrProtocol, uint16(s.Protocol))
				kernelAddr(w, ipvsh.SvcAttrAddr, s.Address)
				w.be16(ipvsh.SvcAttrPort, s.Port)
			}
			w.str(ipvsh.SvcAttrSchedName, s.Scheduler)
			if s.PersistenceEngine != "" {
				w.str(ipvsh.SvcAttrPEName, s.PersistenceEngine)
			}
			w.header(ipvsh.SvcAttrFlags, 8)
			w.b = binary.NativeEndian.AppendUint32(w.b, uint32(s.Flags))
			w.b = binary.NativeEndian.AppendUint32(w.b, ^uint32(0))
			if o.unknown {
				w.u32(30, 0xdeadbeef)
			}
			w.u32(ipvsh.SvcAttrTimeout, uint32(s.Timeout/time.Second))
			if s.Family == FamilyIPv4 {
				w.be32(ipvsh.SvcAttrNetmask, s.Netmask.wire(s.Family))
			} else {
				w.u32(ipvsh.SvcAttrNetmask, s.Netmask.wire(s.Family))
			}
			kernelStats(w, ipvsh.SvcAttrStats, s.Stats, false, o)
			if !o.no64 {
				kernelStats(w, ipvsh.SvcAttrStats64, s.Stats, true, o)
			}
		})
		if o.unknown {
			w.u32(20, 1)
		}
	})
}

func kernelDestination(d Destination, o replyOptions) []byte {
	return genlMessage(ipvsh.CmdNewDest, func(w *attrWriter) {
		kernelNest(w, ipvsh.CmdAttrDest, func() {
			kernelAddr(w, ipvsh.DestAttrAddr, d.Address)
			w.be16(ipvsh.DestAttrPort, d.Port)
			w.u32(ipvsh.DestAttrFwdMethod, uint32(d.Forward))
			w.u32(ipvsh.DestAttrWeight, d.Weight)
			w.u8(ipvsh.DestAttrTunType, uint8(d.TunnelType))
			w.be16(ipvsh.DestAttrTunPort, d.TunnelPort)
			w.u16(ipvsh.DestAttrTunFlags, uint16(d.TunnelFlags))
			w.u32(ipvsh.DestAttrUThresh, d.UpperThreshold)
			w.u32(ipvsh.DestAttrLThresh, d.LowerThreshold)
			w.u32(ipvsh.DestAttrActiveConns, d.ActiveConnections)
			w.u32(ipvsh.DestAttrInactConns, d.InactiveConnections)
			w.u32(ipvsh.DestAttrPersistConns, d.PersistentConnections)
			if o.unknown {
				w.u64(40, 7)
			}
			w.u16(ipvsh.DestAttrAddrFamily, uint16(d.Family))
			kernelStats(w, ipvsh.DestAttrStats, d.Stats, false, o)
			if !o.no64 {
				kernelStats(w, ipvsh.DestAttrStats64, d.Stats, true, o)
			}
		})
	})
}

func kernelDaemon(d Daemon) []byte {
	return genlMessage(ipvsh.CmdNewDaemon, func(w *attrWriter) {
		kernelNest(w, ipvsh.CmdAttrDaemon, func() {
			w.u32(ipvsh.DaemonAttrState, uint32(d.State))
			w.str(ipvsh.DaemonAttrMcastIfn, d.Interface)
			w.u32(ipvsh.DaemonAttrSyncID, d.SyncID)
			w.u16(ipvsh.DaemonAttrSyncMaxlen, d.MaxLength)
			w.u16(ipvsh.DaemonAttrMcastPort, d.Port)
			w.u8(ipvsh.DaemonAttrMcastTTL, d.TTL)
			if d.Group.Is4() {
				w.addr(ipvsh.DaemonAttrMcastGroup, d.Group)
			} else if d.Group.IsValid() {
				w.addr(ipvsh.DaemonAttrMcastGroup6, d.Group)
			}
		})
	})
}

func kernelInfo(i Info) []byte {
	return genlMessage(ipvsh.CmdSetInfo, func(w *attrWriter) {
		w.u32(ipvsh.InfoAttrVersion, uint32(i.Version.Major)<<16|uint32(i.Version.Minor)<<8|uint32(i.Version.Patch))
		w.u32(ipvsh.InfoAttrConnTabSize, i.ConnectionTableSize)
	})
}

// kernelTimeouts leaves out zero timeouts, as a kernel built without
// that protocol does.
func kernelTimeouts(t Timeouts) []byte {
	return genlMessage(ipvsh.CmdSetConfig, func(w *attrWriter) {
		for _, f := range []struct {
			typ uint16
			d   time.Duration
		}{{ipvsh.CmdAttrTimeoutTCP, t.TCP}, {ipvsh.CmdAttrTimeoutTCPFin, t.TCPFin}, {ipvsh.CmdAttrTimeoutUDP, t.UDP}} {
			if f.d != 0 {
				w.u32(f.typ, uint32(f.d/time.Second))
			}
		}
	})
}
