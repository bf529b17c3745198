package ipvstest

import (
	"encoding/binary"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The netlink and Generic Netlink cores: netlink_rcv_skb's loop over the
// messages of a datagram, genl_family_rcv_msg's checks, netlink_ack, and
// the controller family that resolves "IPVS" to its ID.

const (
	ctrlID             = 0x10 // GENL_ID_CTRL
	ctrlVersion        = 2
	ctrlCmdNewFamily   = 1
	ctrlCmdGetFamily   = 3
	ctrlAttrFamilyID   = 1
	ctrlAttrFamilyName = 2
	ctrlAttrVersion    = 3
	ctrlAttrHdrSize    = 4
	ctrlAttrMaxAttr    = 5
	ctrlAttrOps        = 6
	ctrlAttrOpID       = 1
	ctrlAttrOpFlags    = 2

	genlAdminPerm = 0x01
	genlCapDo     = 0x02
	genlCapDump   = 0x04
	genlCapHasPol = 0x08

	nlmsgerrAttrMsg  = 1
	nlmsgerrAttrOffs = 2
)

// ipvsOps are the family's operations and what each can do.
var ipvsOps = map[uint8]int{
	ipvsh.CmdNewService: genlCapDo, ipvsh.CmdSetService: genlCapDo, ipvsh.CmdDelService: genlCapDo,
	ipvsh.CmdGetService: genlCapDo | genlCapDump, ipvsh.CmdNewDest: genlCapDo, ipvsh.CmdSetDest: genlCapDo,
	ipvsh.CmdDelDest: genlCapDo, ipvsh.CmdGetDest: genlCapDump, ipvsh.CmdNewDaemon: genlCapDo,
	ipvsh.CmdDelDaemon: genlCapDo, ipvsh.CmdGetDaemon: genlCapDump, ipvsh.CmdSetConfig: genlCapDo,
	ipvsh.CmdGetConfig: genlCapDo, ipvsh.CmdGetInfo: genlCapDo, ipvsh.CmdZero: genlCapDo, ipvsh.CmdFlush: genlCapDo,
}

// request is one netlink message of a datagram.
type request struct {
	hdr nlmsg.Header
	raw []byte // the whole message
	cmd uint8
	top attrs // the Generic Netlink attributes
}

// answer is what the family made of a request: reply payloads, an errno
// with its extended ACK, or a dump to run.
type answer struct {
	msgs   [][]byte
	errno  errno
	extMsg string
	bad    *attr
	dump   *dump
}

// handle runs one request and returns its answer. It runs with f.mu held.
func (f *Fake) handle(r *request) answer {
	if r.hdr.Type == ctrlID {
		return f.controller(r)
	}
	if r.hdr.Type != f.familyID {
		return answer{errno: eNOENT}
	}
	if len(r.raw) < nlmsg.HeaderLen+nlmsg.GenlHeaderLen {
		return answer{errno: eINVAL}
	}
	caps, ok := ipvsOps[r.cmd]
	isDump := r.hdr.Flags&nlmsg.FlagDump == nlmsg.FlagDump
	if !ok || isDump && caps&genlCapDump == 0 || !isDump && caps&genlCapDo == 0 {
		return answer{errno: eOPNOTSUPP}
	}
	if isDump {
		// Dumps are not validated (GENL_DONT_VALIDATE_DUMP); GET_DEST
		// reads its own service.
		return answer{dump: &dump{cmd: r.cmd, top: r.top}}
	}
	if bad, e := r.top.validate(cmdPolicy); bad != nil {
		return answer{errno: e, extMsg: policyFailMsg, bad: bad}
	}
	switch r.cmd {
	case ipvsh.CmdNewDaemon, ipvsh.CmdDelDaemon:
		e, bad := f.setDaemon(r.cmd, &r.top)
		if bad != nil {
			return answer{errno: e, extMsg: policyFailMsg, bad: bad}
		}
		return answer{errno: e}
	case ipvsh.CmdGetService:
		_, svc, e := f.parseService(&r.top, false)
		if e == 0 && svc == nil {
			e = eSRCH
		}
		if e != 0 {
			return answer{errno: e}
		}
		return answer{msgs: [][]byte{f.encodeService(svc)}}
	case ipvsh.CmdGetInfo:
		return answer{msgs: [][]byte{f.encodeInfo()}}
	case ipvsh.CmdGetConfig:
		return answer{msgs: [][]byte{f.encodeConfig()}}
	}
	return answer{errno: f.setCmd(r.cmd, &r.top)}
}

// controller answers CTRL_CMD_GETFAMILY for IPVS and for itself.
func (f *Fake) controller(r *request) answer {
	if len(r.raw) < nlmsg.HeaderLen+nlmsg.GenlHeaderLen {
		return answer{errno: eINVAL}
	}
	if r.cmd != ctrlCmdGetFamily || r.hdr.Flags&nlmsg.FlagDump == nlmsg.FlagDump {
		return answer{errno: eOPNOTSUPP}
	}
	e, found := eINVAL, ""
	if r.top.has(ctrlAttrFamilyID) && len(r.top.a[ctrlAttrFamilyID].data) >= 2 {
		e = eNOENT
		switch r.top.u16(ctrlAttrFamilyID) {
		case f.familyID:
			found = ipvsh.GenlName
		case ctrlID:
			found = "nlctrl"
		}
	}
	if r.top.has(ctrlAttrFamilyName) {
		e, found = eNOENT, ""
		if n := r.top.str(ctrlAttrFamilyName); n == ipvsh.GenlName || n == "nlctrl" {
			found = n
		}
	}
	if found == "" {
		return answer{errno: e}
	}
	w := genlMsg(ctrlCmdNewFamily, ctrlVersion)
	w.str(ctrlAttrFamilyName, found)
	if found == "nlctrl" {
		w.u16(ctrlAttrFamilyID, ctrlID)
		w.u32(ctrlAttrVersion, ctrlVersion)
		w.u32(ctrlAttrHdrSize, 0)
		w.u32(ctrlAttrMaxAttr, 10)
		return answer{msgs: [][]byte{w.b}}
	}
	w.u16(ctrlAttrFamilyID, f.familyID)
	w.u32(ctrlAttrVersion, ipvsh.GenlVersion)
	w.u32(ctrlAttrHdrSize, 0)
	w.u32(ctrlAttrMaxAttr, ipvsh.CmdAttrTimeoutUDP)
	w.nest(ctrlAttrOps, func() {
		idx := uint16(1)
		for cmd := uint8(ipvsh.CmdNewService); cmd <= ipvsh.CmdFlush; cmd++ {
			if caps, ok := ipvsOps[cmd]; ok {
				w.nest(idx, func() {
					w.u32(ctrlAttrOpID, uint32(cmd))
					w.u32(ctrlAttrOpFlags, uint32(caps|genlAdminPerm|genlCapHasPol))
				})
				idx++
			}
		}
	})
	return answer{msgs: [][]byte{w.b}}
}

// appendMessage appends a netlink message with payload p to b.
func appendMessage(b []byte, typ, flags uint16, seq, pid uint32, p []byte) []byte {
	b = binary.NativeEndian.AppendUint32(b, uint32(nlmsg.HeaderLen+len(p)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, pid)
	b = append(b, p...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ackMessage is netlink_ack for a socket with capped and extended ACKs,
// as the client's are: the errno, the request's header, and for an error
// the kernel explained, its message and the offending attribute. It is
// built in place, for it answers every write.
func ackMessage(req nlmsg.Header, pid uint32, e errno, a *answer) []byte {
	b := make([]byte, nlmsg.HeaderLen, 2*nlmsg.HeaderLen+4)
	b = binary.NativeEndian.AppendUint32(b, uint32(-int32(e)))
	b = binary.NativeEndian.AppendUint32(b, req.Length)
	b = binary.NativeEndian.AppendUint16(b, req.Type)
	b = binary.NativeEndian.AppendUint16(b, req.Flags)
	b = binary.NativeEndian.AppendUint32(b, req.Sequence)
	b = binary.NativeEndian.AppendUint32(b, req.PID)
	flags := uint16(nlmsg.FlagCapped)
	if e != 0 && a != nil && a.extMsg != "" {
		w := writer{b: b}
		w.str(nlmsgerrAttrMsg, a.extMsg)
		if a.bad != nil {
			w.u32(nlmsgerrAttrOffs, uint32(a.bad.off))
		}
		b = w.b
		flags |= nlmsg.FlagAckTLVs
	}
	h := b[:0]
	h = binary.NativeEndian.AppendUint32(h, uint32(len(b)))
	h = binary.NativeEndian.AppendUint16(h, nlmsg.TypeError)
	h = binary.NativeEndian.AppendUint16(h, flags)
	h = binary.NativeEndian.AppendUint32(h, req.Sequence)
	binary.NativeEndian.AppendUint32(h, pid)
	return b
}
