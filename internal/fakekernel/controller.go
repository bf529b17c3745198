package fakekernel

import (
	"syscall"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The Generic Netlink controller, which resolves family names to IDs. It
// knows two families, nlctrl and IPVS, and answers only GETFAMILY
// requests, not dumps.

const (
	ctrlAttrHdrSize = 4
	ctrlAttrMaxAttr = 5
	ctrlAttrOps     = 6
	ctrlAttrOpID    = 1
	ctrlAttrOpFlags = 2
	genlAdminPerm   = 0x01
	genlCapHasPol   = 0x08
)

// controller answers CTRL_CMD_GETFAMILY for IPVS, whose ID is family if
// present, and for itself.
func controller(r *Request, family uint16, present bool) Answer {
	if r.Attrs == nil {
		return Answer{Errno: syscall.EINVAL}
	}
	if r.Cmd != nlmsg.CtrlCmdGetFamily || r.Header.Flags&nlmsg.FlagDump == nlmsg.FlagDump {
		return Answer{Errno: syscall.EOPNOTSUPP}
	}
	top := ParseAttrs(r.Attrs, AttrsOffset)
	e, found := syscall.EINVAL, ""
	if top.Has(nlmsg.CtrlAttrFamilyID) && len(top.A[nlmsg.CtrlAttrFamilyID].Data) >= 2 {
		e = syscall.ENOENT
		switch id := top.U16(nlmsg.CtrlAttrFamilyID); {
		case id == family && present:
			found = ipvsh.GenlName
		case id == nlmsg.CtrlFamilyID:
			found = "nlctrl"
		}
	}
	if top.Has(nlmsg.CtrlAttrFamilyName) {
		e, found = syscall.ENOENT, ""
		switch n := top.Str(nlmsg.CtrlAttrFamilyName); {
		case n == ipvsh.GenlName && present, n == "nlctrl":
			found = n
		}
	}
	if found == "" {
		return Answer{Errno: e}
	}
	w := GenlMsg(nlmsg.CtrlCmdNewFamily, nlmsg.CtrlVersion)
	w.Str(nlmsg.CtrlAttrFamilyName, found)
	if found == "nlctrl" {
		w.U16(nlmsg.CtrlAttrFamilyID, nlmsg.CtrlFamilyID)
		w.U32(nlmsg.CtrlAttrVersion, nlmsg.CtrlVersion)
		w.U32(ctrlAttrHdrSize, 0)
		w.U32(ctrlAttrMaxAttr, 10)
		return Answer{Msgs: [][]byte{w.B}}
	}
	w.U16(nlmsg.CtrlAttrFamilyID, family)
	w.U32(nlmsg.CtrlAttrVersion, ipvsh.GenlVersion)
	w.U32(ctrlAttrHdrSize, 0)
	w.U32(ctrlAttrMaxAttr, ipvsh.CmdAttrTimeoutUDP)
	w.Nest(ctrlAttrOps, func() {
		idx := uint16(1)
		for cmd := uint8(ipvsh.CmdNewService); cmd <= ipvsh.CmdFlush; cmd++ {
			if caps, ok := IPVSOps[cmd]; ok {
				w.Nest(idx, func() {
					w.U32(ctrlAttrOpID, uint32(cmd))
					w.U32(ctrlAttrOpFlags, uint32(caps|genlAdminPerm|genlCapHasPol))
				})
				idx++
			}
		}
	})
	return Answer{Msgs: [][]byte{w.B}}
}
