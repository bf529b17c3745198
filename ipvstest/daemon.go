package ipvstest

import (
	"net/netip"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// The sync daemons: ip_vs_genl_new_daemon, ip_vs_genl_del_daemon,
// start_sync_thread and stop_sync_thread.

const (
	protoTCP       = 6
	syncGroup      = 0xe0000051 // 224.0.0.81, IP_VS_SYNC_GROUP
	syncPort       = 8848       // IP_VS_SYNC_PORT
	policyFailMsg  = "Attribute failed policy validation"
	ipv4UDPHdrLen  = 20 + 8
	ipv6UDPHdrLen  = 40 + 8
	maxSyncMaxLen  = 65535
	minBackupMTU   = 1024
	defaultSyncMTU = 1500
)

// setDaemon handles NEW_DAEMON and DEL_DAEMON. A policy violation in the
// nest comes with an extended ACK, as the kernel parses it with one.
func (f *Fake) setDaemon(cmd uint8, top *fakekernel.Attrs) (errno, *fakekernel.Attr) {
	if !top.Has(ipvsh.CmdAttrDaemon) {
		return eINVAL, nil
	}
	as := top.Nested(ipvsh.CmdAttrDaemon)
	if bad, _ := as.Validate(daemonPolicy); bad != nil {
		return eINVAL, bad
	}
	if cmd == ipvsh.CmdDelDaemon {
		return f.stopDaemon(&as), nil
	}
	return f.startDaemon(&as), nil
}

func (f *Fake) startDaemon(as *fakekernel.Attrs) errno {
	if !as.Has(ipvsh.DaemonAttrState) || !as.Has(ipvsh.DaemonAttrMcastIfn) || !as.Has(ipvsh.DaemonAttrSyncID) {
		return eINVAL
	}
	d := &daemon{ifname: as.Str(ipvsh.DaemonAttrMcastIfn), syncID: as.U32(ipvsh.DaemonAttrSyncID)}
	if as.Has(ipvsh.DaemonAttrSyncMaxlen) {
		d.maxLen = as.U16(ipvsh.DaemonAttrSyncMaxlen)
	}
	if as.Has(ipvsh.DaemonAttrMcastGroup) {
		d.groupAF = ipvsh.AFInet
		copy(d.group[:4], as.A[ipvsh.DaemonAttrMcastGroup].Data)
		if !netip.AddrFrom4([4]byte(d.group[:4])).IsMulticast() {
			return eINVAL
		}
	} else if as.Has(ipvsh.DaemonAttrMcastGroup6) {
		d.groupAF = ipvsh.AFInet6
		as.Memcpy(ipvsh.DaemonAttrMcastGroup6, d.group[:])
		if !netip.AddrFrom16(d.group).IsMulticast() {
			return eINVAL
		}
	}
	if as.Has(ipvsh.DaemonAttrMcastPort) {
		d.port = as.U16(ipvsh.DaemonAttrMcastPort)
	}
	if as.Has(ipvsh.DaemonAttrMcastTTL) {
		d.ttl = as.U8(ipvsh.DaemonAttrMcastTTL)
	}
	if f.t.mixed > 0 {
		return eINVAL // the sync protocol cannot carry mixed families
	}
	state := as.U32(ipvsh.DaemonAttrState)
	if d.groupAF == 0 {
		d.groupAF = ipvsh.AFInet
		d.group = [16]byte{syncGroup >> 24, syncGroup >> 16 & 0xff, syncGroup >> 8 & 0xff, syncGroup & 0xff}
	}
	if d.port == 0 {
		d.port = syncPort
	}
	if d.ttl == 0 {
		d.ttl = 1
	}
	if _, ok := f.ifaces[d.ifname]; !ok {
		return eNODEV
	}
	hlen := ipv4UDPHdrLen
	if d.groupAF == ipvsh.AFInet6 {
		hlen = ipv6UDPHdrLen
	}
	// A backup sizes its buffer from the interface, a master from the
	// usual Ethernet MTU.
	mtu, minLen := defaultSyncMTU, 1
	if state == ipvsh.StateBackup {
		mtu, minLen = min(max(f.ifaces[d.ifname], defaultSyncMTU), maxSyncMaxLen), minBackupMTU
	}
	if d.maxLen != 0 {
		d.maxLen = uint16(min(max(int(d.maxLen), minLen), maxSyncMaxLen-hlen))
	} else {
		d.maxLen = uint16(mtu - hlen)
	}
	slot := &f.t.master
	switch state {
	case ipvsh.StateMaster:
	case ipvsh.StateBackup:
		slot = &f.t.backup
	default:
		return eINVAL
	}
	if *slot != nil {
		return eEXIST
	}
	*slot = d
	return 0
}

func (f *Fake) stopDaemon(as *fakekernel.Attrs) errno {
	if !as.Has(ipvsh.DaemonAttrState) {
		return eINVAL
	}
	slot := &f.t.master
	switch as.U32(ipvsh.DaemonAttrState) {
	case ipvsh.StateMaster:
	case ipvsh.StateBackup:
		slot = &f.t.backup
	default:
		return eINVAL
	}
	if *slot == nil {
		return eSRCH
	}
	*slot = nil
	return 0
}
