package ipvstest

import (
	"slices"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The model behind the kernel's side of the family that internal/
// fakekernel stands for: its handler of IPVS requests, the faults around
// it, and its objects as the kernel's encoders see them.

// request is one request of the IPVS family, with its top-level
// attributes parsed as genl_family_rcv_msg parses them.
type request struct {
	hdr nlmsg.Header
	cmd uint8
	top fakekernel.Attrs
}

// handle is the kernel's handler of the family: it runs one request
// under f.mu, as the kernel's run under __ip_vs_mutex, with the faults
// that match it.
func (f *Fake) handle(kr *fakekernel.Request) fakekernel.Answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := request{hdr: kr.Header, cmd: kr.Cmd, top: fakekernel.ParseAttrs(kr.Attrs, fakekernel.AttrsOffset)}
	isDump := kr.Header.Flags&nlmsg.FlagDump == nlmsg.FlagDump
	ft := f.matchFault(&r)
	var a fakekernel.Answer
	switch {
	case ft != nil && ft.Errno != 0:
		a.Errno = ft.Errno
	case isDump:
		// Dumps are not validated (GENL_DONT_VALIDATE_DUMP); GET_DEST
		// reads its own service, again for each chunk, after this
		// handler has returned: from a copy of the request.
		d := request{hdr: r.hdr, cmd: r.cmd, top: fakekernel.ParseAttrs(slices.Clone(kr.Attrs), fakekernel.AttrsOffset)}
		a.Dump = func(i int) []byte { return f.dumpItem(&d, i) }
	default:
		a = f.do(&r)
	}
	if ft != nil {
		a.Delay, a.Lose, a.Shift = ft.Delay, ft.Lose, ft.Shift
		if ft.Interrupt {
			a.DumpFlags = nlmsg.FlagDumpIntr
		}
	}
	return a
}

// do runs a request that is not a dump; f.mu is held.
func (f *Fake) do(r *request) fakekernel.Answer {
	refuse := func(e errno, bad *fakekernel.Attr) fakekernel.Answer {
		a := fakekernel.Answer{Errno: e}
		if bad != nil {
			a.ExtAck, a.Bad = policyFailMsg, bad.Off
		}
		return a
	}
	if bad, e := r.top.Validate(cmdPolicy); bad != nil {
		return refuse(e, bad)
	}
	switch r.cmd {
	case ipvsh.CmdNewDaemon, ipvsh.CmdDelDaemon:
		return refuse(f.setDaemon(r.cmd, &r.top))
	case ipvsh.CmdGetService:
		_, svc, e := f.parseService(&r.top, false)
		if e == 0 && svc == nil {
			e = eSRCH
		}
		if e != 0 {
			return refuse(e, nil)
		}
		return fakekernel.Answer{Msgs: [][]byte{f.encodeService(svc)}}
	case ipvsh.CmdGetInfo:
		return fakekernel.Answer{Msgs: [][]byte{f.encodeInfo()}}
	case ipvsh.CmdGetConfig:
		return fakekernel.Answer{Msgs: [][]byte{f.encodeConfig()}}
	}
	return refuse(f.setCmd(r.cmd, &r.top), nil)
}

// dumpItem returns the message of object i of the dump r, or nil past
// its end; f.mu is held.
func (f *Fake) dumpItem(r *request, i int) []byte {
	t := f.t
	switch r.cmd {
	case ipvsh.CmdGetService:
		switch {
		case i < len(t.order):
			return f.encodeService(t.order[i])
		case i-len(t.order) < len(t.fwm):
			return f.encodeService(t.fwm[i-len(t.order)])
		}
	case ipvsh.CmdGetDest:
		// Each chunk looks the service up again; a missing or invalid one
		// is an empty dump, not an error.
		if _, svc, e := f.parseService(&r.top, false); e == 0 && svc != nil && i < len(svc.dests) {
			return encodeDest(svc.dests[len(svc.dests)-1-i])
		}
	case ipvsh.CmdGetDaemon:
		var running []*daemon
		var states []uint32
		if t.master != nil {
			running, states = append(running, t.master), append(states, ipvsh.StateMaster)
		}
		if t.backup != nil {
			running, states = append(running, t.backup), append(states, ipvsh.StateBackup)
		}
		if i < len(running) {
			return encodeDaemon(states[i], running[i])
		}
	}
	return nil
}

// The objects as the kernel's encoders read them: stats are kept as
// ipvs.Stats, which converts to the encoders' own.

func (f *Fake) encodeService(s *service) []byte {
	k := s.key
	return fakekernel.Options{}.Service(&fakekernel.Service{AF: k.af, Protocol: k.proto, Addr: toAddr(k.af, k.addr),
		Port: k.port, FWMark: k.fwmark, Sched: s.sched, PE: s.pe, Flags: s.flags,
		Timeout: s.timeout / uint32(f.hz), Netmask: s.netmask, Stats: fakekernel.Stats(s.stats)})
}

func encodeDest(d *dest) []byte {
	return fakekernel.Options{}.Dest(&fakekernel.Dest{AF: d.key.af, Addr: toAddr(d.key.af, d.key.addr), Port: d.key.port,
		Fwd: d.fwd, Weight: d.weight, UThresh: d.uthresh, LThresh: d.lthresh,
		TunType: d.tunType, TunPort: d.tunPort, TunFlags: d.tunFlags,
		Active: d.active, Inactive: d.inactive, Persist: d.persist, Stats: fakekernel.Stats(d.stats)})
}

func encodeDaemon(state uint32, d *daemon) []byte {
	return fakekernel.Options{}.Daemon(&fakekernel.Daemon{State: state, Ifname: d.ifname, SyncID: d.syncID,
		MaxLen: d.maxLen, Group: toAddr(d.groupAF, d.group), Port: d.port, TTL: d.ttl})
}

func (f *Fake) encodeInfo() []byte { return fakekernel.Info(f.version, f.connTab) }

func (f *Fake) encodeConfig() []byte {
	return fakekernel.Options{}.Config(fakekernel.Timeouts{TCP: uint32(f.t.tcp / f.hz),
		TCPFin: uint32(f.t.tcpFin / f.hz), UDP: uint32(f.t.udp / f.hz)})
}
