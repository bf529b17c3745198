package ipvstest

import (
	"encoding/binary"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// The kernel's reply encoders (ip_vs_genl_fill_*), attribute by attribute
// in its order and widths, as captured from Linux 5.10 to 7.2: 16-byte
// addresses, nests without NLA_F_NESTED, STATS and STATS64 in every
// service and destination, and no PAD attributes (as on x86-64).

// genlMsg starts a Generic Netlink payload: the command, the version and
// the reserved field.
func genlMsg(cmd, version uint8) writer {
	b := make([]byte, 4, 320) // a service's message is about 300 bytes
	b[0], b[1] = cmd, version
	return writer{b: b}
}

func (f *Fake) encodeService(s *service) []byte {
	w := genlMsg(ipvsh.CmdNewService, ipvsh.GenlVersion)
	w.nest(ipvsh.CmdAttrService, func() {
		w.u16(ipvsh.SvcAttrAF, s.key.af)
		if s.key.fwmark != 0 {
			w.u32(ipvsh.SvcAttrFwmark, s.key.fwmark)
		} else {
			w.u16(ipvsh.SvcAttrProtocol, s.key.proto)
			w.bytes(ipvsh.SvcAttrAddr, s.key.addr[:])
			w.be16(ipvsh.SvcAttrPort, s.key.port)
		}
		w.str(ipvsh.SvcAttrSchedName, s.sched)
		if s.pe != "" {
			w.str(ipvsh.SvcAttrPEName, s.pe)
		}
		w.header(ipvsh.SvcAttrFlags, 8)
		w.b = binary.NativeEndian.AppendUint32(w.b, s.flags)
		w.b = binary.NativeEndian.AppendUint32(w.b, ^uint32(0))
		w.u32(ipvsh.SvcAttrTimeout, s.timeout/uint32(f.hz))
		w.bytes(ipvsh.SvcAttrNetmask, s.netmask[:])
		encodeStats(&w, ipvsh.SvcAttrStats, s.stats, false)
		encodeStats(&w, ipvsh.SvcAttrStats64, s.stats, true)
	})
	return w.b
}

func encodeDest(d *dest) []byte {
	w := genlMsg(ipvsh.CmdNewDest, ipvsh.GenlVersion)
	w.nest(ipvsh.CmdAttrDest, func() {
		w.bytes(ipvsh.DestAttrAddr, d.key.addr[:])
		w.be16(ipvsh.DestAttrPort, d.key.port)
		w.u32(ipvsh.DestAttrFwdMethod, d.fwd)
		w.u32(ipvsh.DestAttrWeight, d.weight)
		w.u8(ipvsh.DestAttrTunType, d.tunType)
		w.be16(ipvsh.DestAttrTunPort, d.tunPort)
		w.u16(ipvsh.DestAttrTunFlags, d.tunFlags)
		w.u32(ipvsh.DestAttrUThresh, d.uthresh)
		w.u32(ipvsh.DestAttrLThresh, d.lthresh)
		w.u32(ipvsh.DestAttrActiveConns, d.active)
		w.u32(ipvsh.DestAttrInactConns, d.inactive)
		w.u32(ipvsh.DestAttrPersistConns, d.persist)
		w.u16(ipvsh.DestAttrAddrFamily, d.key.af)
		encodeStats(&w, ipvsh.DestAttrStats, d.stats, false)
		encodeStats(&w, ipvsh.DestAttrStats64, d.stats, true)
	})
	return w.b
}

// encodeStats writes STATS, whose counters other than the byte counts
// the kernel truncates to 32 bits, or STATS64.
func encodeStats(w *writer, typ uint16, s ipvs.Stats, wide bool) {
	w.nest(typ, func() {
		for i, v := range [...]uint64{s.Connections, s.InPackets, s.OutPackets, s.InBytes, s.OutBytes,
			s.ConnectionRate, s.InPacketRate, s.OutPacketRate, s.InByteRate, s.OutByteRate} {
			t := uint16(ipvsh.StatsAttrConns + i)
			if wide || t == ipvsh.StatsAttrInBytes || t == ipvsh.StatsAttrOutBytes {
				w.u64(t, v)
			} else {
				w.u32(t, uint32(v))
			}
		}
	})
}

func encodeDaemon(state uint32, d *daemon) []byte {
	w := genlMsg(ipvsh.CmdNewDaemon, ipvsh.GenlVersion)
	w.nest(ipvsh.CmdAttrDaemon, func() {
		w.u32(ipvsh.DaemonAttrState, state)
		w.str(ipvsh.DaemonAttrMcastIfn, d.ifname)
		w.u32(ipvsh.DaemonAttrSyncID, d.syncID)
		w.u16(ipvsh.DaemonAttrSyncMaxlen, d.maxLen)
		w.u16(ipvsh.DaemonAttrMcastPort, d.port)
		w.u8(ipvsh.DaemonAttrMcastTTL, d.ttl)
		if d.groupAF == ipvsh.AFInet6 {
			w.bytes(ipvsh.DaemonAttrMcastGroup6, d.group[:])
		} else {
			w.bytes(ipvsh.DaemonAttrMcastGroup, d.group[:4])
		}
	})
	return w.b
}

func (f *Fake) encodeInfo() []byte {
	w := genlMsg(ipvsh.CmdSetInfo, ipvsh.GenlVersion)
	w.u32(ipvsh.InfoAttrVersion, f.version)
	w.u32(ipvsh.InfoAttrConnTabSize, f.connTab)
	return w.b
}

func (f *Fake) encodeConfig() []byte {
	w := genlMsg(ipvsh.CmdSetConfig, ipvsh.GenlVersion)
	w.u32(ipvsh.CmdAttrTimeoutTCP, uint32(f.t.tcp/f.hz))
	w.u32(ipvsh.CmdAttrTimeoutTCPFin, uint32(f.t.tcpFin/f.hz))
	w.u32(ipvsh.CmdAttrTimeoutUDP, uint32(f.t.udp/f.hz))
	return w.b
}
