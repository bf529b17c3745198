package ipvstest

import (
	"encoding/binary"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// The IPVS family's handlers: ip_vs_genl_set_cmd, ip_vs_genl_set_daemon
// and ip_vs_genl_get_cmd, with the attribute parsing they do themselves.

var (
	cmdPolicy = []policy{ipvsh.CmdAttrService: {kind: polNested}, ipvsh.CmdAttrDest: {kind: polNested},
		ipvsh.CmdAttrDaemon: {kind: polNested}, ipvsh.CmdAttrTimeoutTCP: {kind: polU32},
		ipvsh.CmdAttrTimeoutTCPFin: {kind: polU32}, ipvsh.CmdAttrTimeoutUDP: {kind: polU32}}
	svcPolicy = []policy{ipvsh.SvcAttrAF: {kind: polU16}, ipvsh.SvcAttrProtocol: {kind: polU16},
		ipvsh.SvcAttrAddr: {kind: polBinary, len: 16}, ipvsh.SvcAttrPort: {kind: polU16},
		ipvsh.SvcAttrFwmark: {kind: polU32}, ipvsh.SvcAttrSchedName: {kind: polNulString, len: ipvsh.SchedNameMaxLen - 1},
		ipvsh.SvcAttrFlags: {kind: polBinary, len: 8}, ipvsh.SvcAttrTimeout: {kind: polU32},
		ipvsh.SvcAttrNetmask: {kind: polU32}, ipvsh.SvcAttrStats: {kind: polNested},
		ipvsh.SvcAttrPEName: {kind: polNulString, len: ipvsh.PENameMaxLen}}
	destPolicy = []policy{ipvsh.DestAttrAddr: {kind: polBinary, len: 16}, ipvsh.DestAttrPort: {kind: polU16},
		ipvsh.DestAttrFwdMethod: {kind: polU32}, ipvsh.DestAttrWeight: {kind: polU32},
		ipvsh.DestAttrUThresh: {kind: polU32}, ipvsh.DestAttrLThresh: {kind: polU32},
		ipvsh.DestAttrActiveConns: {kind: polU32}, ipvsh.DestAttrInactConns: {kind: polU32},
		ipvsh.DestAttrPersistConns: {kind: polU32}, ipvsh.DestAttrStats: {kind: polNested},
		ipvsh.DestAttrAddrFamily: {kind: polU16}, ipvsh.DestAttrTunType: {kind: polU8},
		ipvsh.DestAttrTunPort: {kind: polU16}, ipvsh.DestAttrTunFlags: {kind: polU16}}
	daemonPolicy = []policy{ipvsh.DaemonAttrState: {kind: polU32},
		ipvsh.DaemonAttrMcastIfn: {kind: polNulString, len: ipvsh.IfNameMaxLen - 1},
		ipvsh.DaemonAttrSyncID:   {kind: polU32}, ipvsh.DaemonAttrSyncMaxlen: {kind: polU16},
		ipvsh.DaemonAttrMcastGroup: {kind: polU32}, ipvsh.DaemonAttrMcastGroup6: {kind: polBinary, len: 16},
		ipvsh.DaemonAttrMcastPort: {kind: polU16}, ipvsh.DaemonAttrMcastTTL: {kind: polU8}}
)

// userService is struct ip_vs_service_user_kern.
type userService struct {
	key     svcKey
	sched   string
	pe      string
	flags   uint32
	timeout uint32
	netmask [4]byte
}

// userDest is struct ip_vs_dest_user_kern.
type userDest struct {
	key               destKey
	fwd, weight       uint32
	uthresh, lthresh  uint32
	tunType           uint8
	tunPort, tunFlags uint16
}

func afValid(af uint16) bool { return af == ipvsh.AFInet || af == ipvsh.AFInet6 }

// parseService is ip_vs_genl_parse_service: the service the nest names,
// which may not exist, and with full, the settings of a create or update.
func (f *Fake) parseService(top *attrs, full bool) (*userService, *service, errno) {
	if !top.has(ipvsh.CmdAttrService) {
		return nil, nil, eINVAL
	}
	as := top.nested(ipvsh.CmdAttrService)
	if bad, _ := as.validate(svcPolicy); bad != nil {
		return nil, nil, eINVAL
	}
	if !as.has(ipvsh.SvcAttrAF) || !(as.has(ipvsh.SvcAttrFwmark) ||
		as.has(ipvsh.SvcAttrPort) && as.has(ipvsh.SvcAttrProtocol) && as.has(ipvsh.SvcAttrAddr)) {
		return nil, nil, eINVAL
	}
	u := &userService{}
	u.key.af = as.u16(ipvsh.SvcAttrAF)
	if !afValid(u.key.af) {
		return nil, nil, eAFNOSUPPORT
	}
	if as.has(ipvsh.SvcAttrFwmark) {
		u.key.proto, u.key.fwmark = protoTCP, as.u32(ipvsh.SvcAttrFwmark)
	} else {
		u.key.proto = as.u16(ipvsh.SvcAttrProtocol)
		as.memcpy(ipvsh.SvcAttrAddr, u.key.addr[:])
		u.key.port = as.be16(ipvsh.SvcAttrPort)
	}
	if u.key.af == ipvsh.AFInet {
		clear(u.key.addr[4:])
	}
	svc := f.t.svcs[u.key]
	if !full {
		return u, svc, 0
	}
	if !as.has(ipvsh.SvcAttrSchedName) || !as.has(ipvsh.SvcAttrFlags) ||
		!as.has(ipvsh.SvcAttrTimeout) || !as.has(ipvsh.SvcAttrNetmask) {
		return nil, nil, eINVAL
	}
	var fl [8]byte // struct ip_vs_flags; a short one leaves the mask 0
	as.memcpy(ipvsh.SvcAttrFlags, fl[:])
	flags, mask := binary.NativeEndian.Uint32(fl[:]), binary.NativeEndian.Uint32(fl[4:])
	if svc != nil {
		u.flags = svc.flags
	}
	u.flags = u.flags&^mask | flags&mask
	u.sched = as.str(ipvsh.SvcAttrSchedName)
	if as.has(ipvsh.SvcAttrPEName) {
		u.pe = as.str(ipvsh.SvcAttrPEName)
	}
	u.timeout = as.u32(ipvsh.SvcAttrTimeout)
	copy(u.netmask[:], as.a[ipvsh.SvcAttrNetmask].data)
	return u, svc, 0
}

// parseDest is ip_vs_genl_parse_dest.
func parseDest(top *attrs, full bool) (*userDest, errno) {
	if !top.has(ipvsh.CmdAttrDest) {
		return nil, eINVAL
	}
	as := top.nested(ipvsh.CmdAttrDest)
	if bad, _ := as.validate(destPolicy); bad != nil {
		return nil, eINVAL
	}
	if !as.has(ipvsh.DestAttrAddr) || !as.has(ipvsh.DestAttrPort) {
		return nil, eINVAL
	}
	u := &userDest{}
	as.memcpy(ipvsh.DestAttrAddr, u.key.addr[:])
	u.key.port = as.be16(ipvsh.DestAttrPort)
	if as.has(ipvsh.DestAttrAddrFamily) {
		u.key.af = as.u16(ipvsh.DestAttrAddrFamily)
	}
	if !full {
		return u, 0
	}
	if !as.has(ipvsh.DestAttrFwdMethod) || !as.has(ipvsh.DestAttrWeight) ||
		!as.has(ipvsh.DestAttrUThresh) || !as.has(ipvsh.DestAttrLThresh) {
		return nil, eINVAL
	}
	u.fwd = as.u32(ipvsh.DestAttrFwdMethod) & ipvsh.ConnFFwdMask
	u.weight = as.u32(ipvsh.DestAttrWeight)
	u.uthresh = as.u32(ipvsh.DestAttrUThresh)
	u.lthresh = as.u32(ipvsh.DestAttrLThresh)
	if as.has(ipvsh.DestAttrTunType) {
		u.tunType = as.u8(ipvsh.DestAttrTunType)
	}
	if as.has(ipvsh.DestAttrTunPort) {
		u.tunPort = as.be16(ipvsh.DestAttrTunPort)
	}
	if as.has(ipvsh.DestAttrTunFlags) {
		u.tunFlags = as.u16(ipvsh.DestAttrTunFlags)
	}
	return u, 0
}

// setCmd is ip_vs_genl_set_cmd: every write but the daemons'.
func (f *Fake) setCmd(cmd uint8, top *attrs) errno {
	t := f.t
	switch {
	case cmd == ipvsh.CmdFlush:
		t.flush()
		return 0
	case cmd == ipvsh.CmdSetConfig:
		return f.setConfig(top)
	case cmd == ipvsh.CmdZero && !top.has(ipvsh.CmdAttrService):
		t.zeroAll()
		return 0
	}
	u, svc, e := f.parseService(top, cmd == ipvsh.CmdNewService || cmd == ipvsh.CmdSetService)
	if e != 0 {
		return e
	}
	if cmd != ipvsh.CmdNewService && svc == nil {
		return eSRCH
	}
	var ud *userDest
	if cmd == ipvsh.CmdNewDest || cmd == ipvsh.CmdSetDest || cmd == ipvsh.CmdDelDest {
		if ud, e = parseDest(top, cmd != ipvsh.CmdDelDest); e != 0 {
			return e
		}
		if ud.key.af == 0 {
			ud.key.af = svc.key.af
		}
		if !afValid(ud.key.af) {
			return eAFNOSUPPORT
		}
		if ud.key.af == ipvsh.AFInet {
			clear(ud.key.addr[4:])
		}
		// The sync protocol cannot carry mixed families, and only
		// tunnels can forward across them.
		if ud.key.af != svc.key.af && cmd != ipvsh.CmdDelDest &&
			(t.master != nil || t.backup != nil || ud.fwd != ipvsh.ConnFTunnel) {
			return eINVAL
		}
	}
	switch cmd {
	case ipvsh.CmdNewService:
		if svc != nil {
			return eEXIST
		}
		return f.addService(u)
	case ipvsh.CmdSetService:
		return f.editService(svc, u)
	case ipvsh.CmdDelService:
		t.delService(svc)
		return 0
	case ipvsh.CmdNewDest:
		return f.addDest(svc, ud)
	case ipvsh.CmdSetDest:
		return f.editDest(svc, ud)
	case ipvsh.CmdDelDest:
		return t.delDest(svc, ud.key)
	case ipvsh.CmdZero:
		t.zero(svc)
		return 0
	}
	return eINVAL
}

// setConfig is ip_vs_genl_set_config and ip_vs_set_timeout: the values
// are ints in seconds, and must fit in jiffies.
func (f *Fake) setConfig(top *attrs) errno {
	t := f.t
	vals := [3]int64{t.tcp / f.hz, t.tcpFin / f.hz, t.udp / f.hz}
	for i, a := range []int{ipvsh.CmdAttrTimeoutTCP, ipvsh.CmdAttrTimeoutTCPFin, ipvsh.CmdAttrTimeoutUDP} {
		if top.has(a) {
			vals[i] = int64(int32(top.u32(a)))
		}
	}
	for _, v := range vals {
		if v < 0 || v > (1<<31-1)/f.hz {
			return eINVAL
		}
	}
	for i, p := range []*int64{&t.tcp, &t.tcpFin, &t.udp} {
		if vals[i] != 0 {
			*p = vals[i] * f.hz
		}
	}
	return 0
}
