package ipvstest

import (
	"encoding/binary"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// The IPVS family's handlers: ip_vs_genl_set_cmd, ip_vs_genl_set_daemon
// and ip_vs_genl_get_cmd, with the attribute parsing they do themselves.

var (
	cmdPolicy = []fakekernel.Policy{ipvsh.CmdAttrService: {Kind: fakekernel.PolNested}, ipvsh.CmdAttrDest: {Kind: fakekernel.PolNested},
		ipvsh.CmdAttrDaemon: {Kind: fakekernel.PolNested}, ipvsh.CmdAttrTimeoutTCP: {Kind: fakekernel.PolU32},
		ipvsh.CmdAttrTimeoutTCPFin: {Kind: fakekernel.PolU32}, ipvsh.CmdAttrTimeoutUDP: {Kind: fakekernel.PolU32}}
	svcPolicy = []fakekernel.Policy{ipvsh.SvcAttrAF: {Kind: fakekernel.PolU16}, ipvsh.SvcAttrProtocol: {Kind: fakekernel.PolU16},
		ipvsh.SvcAttrAddr: {Kind: fakekernel.PolBinary, Len: 16}, ipvsh.SvcAttrPort: {Kind: fakekernel.PolU16},
		ipvsh.SvcAttrFwmark: {Kind: fakekernel.PolU32}, ipvsh.SvcAttrSchedName: {Kind: fakekernel.PolNulString, Len: ipvsh.SchedNameMaxLen - 1},
		ipvsh.SvcAttrFlags: {Kind: fakekernel.PolBinary, Len: 8}, ipvsh.SvcAttrTimeout: {Kind: fakekernel.PolU32},
		ipvsh.SvcAttrNetmask: {Kind: fakekernel.PolU32}, ipvsh.SvcAttrStats: {Kind: fakekernel.PolNested},
		ipvsh.SvcAttrPEName: {Kind: fakekernel.PolNulString, Len: ipvsh.PENameMaxLen}}
	destPolicy = []fakekernel.Policy{ipvsh.DestAttrAddr: {Kind: fakekernel.PolBinary, Len: 16}, ipvsh.DestAttrPort: {Kind: fakekernel.PolU16},
		ipvsh.DestAttrFwdMethod: {Kind: fakekernel.PolU32}, ipvsh.DestAttrWeight: {Kind: fakekernel.PolU32},
		ipvsh.DestAttrUThresh: {Kind: fakekernel.PolU32}, ipvsh.DestAttrLThresh: {Kind: fakekernel.PolU32},
		ipvsh.DestAttrActiveConns: {Kind: fakekernel.PolU32}, ipvsh.DestAttrInactConns: {Kind: fakekernel.PolU32},
		ipvsh.DestAttrPersistConns: {Kind: fakekernel.PolU32}, ipvsh.DestAttrStats: {Kind: fakekernel.PolNested},
		ipvsh.DestAttrAddrFamily: {Kind: fakekernel.PolU16}, ipvsh.DestAttrTunType: {Kind: fakekernel.PolU8},
		ipvsh.DestAttrTunPort: {Kind: fakekernel.PolU16}, ipvsh.DestAttrTunFlags: {Kind: fakekernel.PolU16}}
	daemonPolicy = []fakekernel.Policy{ipvsh.DaemonAttrState: {Kind: fakekernel.PolU32},
		ipvsh.DaemonAttrMcastIfn: {Kind: fakekernel.PolNulString, Len: ipvsh.IfNameMaxLen - 1},
		ipvsh.DaemonAttrSyncID:   {Kind: fakekernel.PolU32}, ipvsh.DaemonAttrSyncMaxlen: {Kind: fakekernel.PolU16},
		ipvsh.DaemonAttrMcastGroup: {Kind: fakekernel.PolU32}, ipvsh.DaemonAttrMcastGroup6: {Kind: fakekernel.PolBinary, Len: 16},
		ipvsh.DaemonAttrMcastPort: {Kind: fakekernel.PolU16}, ipvsh.DaemonAttrMcastTTL: {Kind: fakekernel.PolU8}}
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
func (f *Fake) parseService(top *fakekernel.Attrs, full bool) (*userService, *service, errno) {
	if !top.Has(ipvsh.CmdAttrService) {
		return nil, nil, eINVAL
	}
	as := top.Nested(ipvsh.CmdAttrService)
	if bad, _ := as.Validate(svcPolicy); bad != nil {
		return nil, nil, eINVAL
	}
	if !as.Has(ipvsh.SvcAttrAF) || !(as.Has(ipvsh.SvcAttrFwmark) ||
		as.Has(ipvsh.SvcAttrPort) && as.Has(ipvsh.SvcAttrProtocol) && as.Has(ipvsh.SvcAttrAddr)) {
		return nil, nil, eINVAL
	}
	u := &userService{}
	u.key.af = as.U16(ipvsh.SvcAttrAF)
	if !afValid(u.key.af) {
		return nil, nil, eAFNOSUPPORT
	}
	if as.Has(ipvsh.SvcAttrFwmark) {
		u.key.proto, u.key.fwmark = protoTCP, as.U32(ipvsh.SvcAttrFwmark)
	} else {
		u.key.proto = as.U16(ipvsh.SvcAttrProtocol)
		as.Memcpy(ipvsh.SvcAttrAddr, u.key.addr[:])
		u.key.port = as.BE16(ipvsh.SvcAttrPort)
	}
	if u.key.af == ipvsh.AFInet {
		clear(u.key.addr[4:])
	}
	svc := f.t.svcs[u.key]
	if !full {
		return u, svc, 0
	}
	if !as.Has(ipvsh.SvcAttrSchedName) || !as.Has(ipvsh.SvcAttrFlags) ||
		!as.Has(ipvsh.SvcAttrTimeout) || !as.Has(ipvsh.SvcAttrNetmask) {
		return nil, nil, eINVAL
	}
	var fl [8]byte // struct ip_vs_flags; a short one leaves the mask 0
	as.Memcpy(ipvsh.SvcAttrFlags, fl[:])
	flags, mask := binary.NativeEndian.Uint32(fl[:]), binary.NativeEndian.Uint32(fl[4:])
	if svc != nil {
		u.flags = svc.flags
	}
	u.flags = u.flags&^mask | flags&mask
	u.sched = as.Str(ipvsh.SvcAttrSchedName)
	if as.Has(ipvsh.SvcAttrPEName) {
		u.pe = as.Str(ipvsh.SvcAttrPEName)
	}
	u.timeout = as.U32(ipvsh.SvcAttrTimeout)
	copy(u.netmask[:], as.A[ipvsh.SvcAttrNetmask].Data)
	return u, svc, 0
}

// parseDest is ip_vs_genl_parse_dest.
func parseDest(top *fakekernel.Attrs, full bool) (*userDest, errno) {
	if !top.Has(ipvsh.CmdAttrDest) {
		return nil, eINVAL
	}
	as := top.Nested(ipvsh.CmdAttrDest)
	if bad, _ := as.Validate(destPolicy); bad != nil {
		return nil, eINVAL
	}
	if !as.Has(ipvsh.DestAttrAddr) || !as.Has(ipvsh.DestAttrPort) {
		return nil, eINVAL
	}
	u := &userDest{}
	as.Memcpy(ipvsh.DestAttrAddr, u.key.addr[:])
	u.key.port = as.BE16(ipvsh.DestAttrPort)
	if as.Has(ipvsh.DestAttrAddrFamily) {
		u.key.af = as.U16(ipvsh.DestAttrAddrFamily)
	}
	if !full {
		return u, 0
	}
	if !as.Has(ipvsh.DestAttrFwdMethod) || !as.Has(ipvsh.DestAttrWeight) ||
		!as.Has(ipvsh.DestAttrUThresh) || !as.Has(ipvsh.DestAttrLThresh) {
		return nil, eINVAL
	}
	u.fwd = as.U32(ipvsh.DestAttrFwdMethod) & ipvsh.ConnFFwdMask
	u.weight = as.U32(ipvsh.DestAttrWeight)
	u.uthresh = as.U32(ipvsh.DestAttrUThresh)
	u.lthresh = as.U32(ipvsh.DestAttrLThresh)
	if as.Has(ipvsh.DestAttrTunType) {
		u.tunType = as.U8(ipvsh.DestAttrTunType)
	}
	if as.Has(ipvsh.DestAttrTunPort) {
		u.tunPort = as.BE16(ipvsh.DestAttrTunPort)
	}
	if as.Has(ipvsh.DestAttrTunFlags) {
		u.tunFlags = as.U16(ipvsh.DestAttrTunFlags)
	}
	return u, 0
}

// setCmd is ip_vs_genl_set_cmd: every write but the daemons'.
func (f *Fake) setCmd(cmd uint8, top *fakekernel.Attrs) errno {
	t := f.t
	switch {
	case cmd == ipvsh.CmdFlush:
		t.flush()
		return 0
	case cmd == ipvsh.CmdSetConfig:
		return f.setConfig(top)
	case cmd == ipvsh.CmdZero && !top.Has(ipvsh.CmdAttrService):
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
func (f *Fake) setConfig(top *fakekernel.Attrs) errno {
	t := f.t
	vals := [3]int64{t.tcp / f.hz, t.tcpFin / f.hz, t.udp / f.hz}
	for i, a := range []int{ipvsh.CmdAttrTimeoutTCP, ipvsh.CmdAttrTimeoutTCPFin, ipvsh.CmdAttrTimeoutUDP} {
		if top.Has(a) {
			vals[i] = int64(int32(top.U32(a)))
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
