package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

// ipvsadmError is a refusal spelled as ipvsadm spells the kernel's.
type ipvsadmError string

func (e ipvsadmError) Error() string { return string(e) }

// dest is what a desired table keeps of a destination: what can be
// written, in its canonical form (ipvs.Destination.Canonical), without
// the counters an ipvs.Destination carries, so that a table of a hundred
// thousand destinations stays small.
type dest struct {
	addr        netip.Addr
	family      ipvs.Family
	port        uint16
	forward     ipvs.ForwardMethod
	weight      uint32
	upper       uint32
	lower       uint32
	tunnelPort  uint16
	tunnelFlags ipvs.TunnelFlags
	tunnelType  ipvs.TunnelType
	// line is the input line that set it, for errors; 0 if none.
	line int32
}

// destOf returns the record of d, a destination of the service svc
// identifies, set by input line line.
func destOf(d *ipvs.Destination, svc ipvs.ServiceKey, line int) dest {
	c := d.Canonical(svc)
	return dest{addr: c.Address, family: c.Family, port: c.Port, forward: c.Forward, weight: c.Weight,
		upper: c.UpperThreshold, lower: c.LowerThreshold, tunnelPort: c.TunnelPort, tunnelFlags: c.TunnelFlags,
		tunnelType: c.TunnelType, line: int32(line)}
}

func (d *dest) destination() ipvs.Destination {
	return ipvs.Destination{Address: d.addr, Family: d.family, Port: d.port, Forward: d.forward, Weight: d.weight,
		UpperThreshold: d.upper, LowerThreshold: d.lower, TunnelPort: d.tunnelPort, TunnelFlags: d.tunnelFlags, TunnelType: d.tunnelType}
}

// is reports whether the destination is the one key names.
func (d *dest) is(key netip.AddrPort) bool { return d.addr == key.Addr() && d.port == key.Port() }

// entry is a service of a desired table.
type entry struct {
	svc ipvs.Service
	// dests are its destinations; kernel are those the kernel's table
	// has, used instead while no line has changed them, so that a
	// restore onto a loaded table does not copy it.
	dests  []dest
	kernel []held
	// line is the input line that last set the service (0 if none).
	line int
	// owned: the input names the service; gone: it removed it.
	owned, gone bool
}

// desiredTable is the table a restore or an apply converges to: the
// kernel's, with the input's lines applied in order.
type desiredTable struct {
	// entries are in the order first named; index finds them.
	entries []entry
	index   map[ipvs.ServiceKey]int32
	// last is the entry whose destinations a line last added to, which
	// are in scratch (see clip); names holds one copy of each scheduler
	// and engine name, which would otherwise keep the text of their
	// lines.
	last    *entry
	scratch []dest
	names   map[string]string
	// hit is the entry find found last, by its key: a service's lines
	// mostly come together.
	hitKey ipvs.ServiceKey
	hit    int32
	hitOK  bool
	// ownAll: every service of the table is the input's, after -C or
	// with --flush.
	ownAll   bool
	timeouts *ipvs.Timeouts
	daemons  map[ipvs.DaemonState]*ipvs.Daemon
	zero     []*cli.Command
}

func newDesired(k *kernelTable, daemons []ipvs.Daemon, flush bool) *desiredTable {
	t := &desiredTable{index: map[ipvs.ServiceKey]int32{}, daemons: map[ipvs.DaemonState]*ipvs.Daemon{}, ownAll: flush, names: map[string]string{}}
	for _, d := range daemons {
		t.daemons[d.State] = &d
	}
	if flush || k == nil {
		return t
	}
	t.entries = make([]entry, 0, len(k.services))
	for i, s := range k.services {
		e := t.add(s.Key(), s, 0)
		e.owned, e.kernel = false, k.dests[i]
	}
	return t
}

// own returns the entry's destinations to change, made from the kernel's
// at the first change.
func (e *entry) own() []dest {
	if e.kernel != nil {
		e.dests = make([]dest, len(e.kernel))
		for j := range e.kernel {
			e.dests[j] = e.kernel[j].dest
		}
		e.kernel = nil
	}
	return e.dests
}

// intern returns the table's copy of a name.
func (t *desiredTable) intern(s string) string {
	if s == "" {
		return s
	}
	c, ok := t.names[s]
	if !ok {
		c = strings.Clone(s)
		t.names[c] = c
	}
	return c
}

// setService sets the entry's service from a line's, its names copied
// out of the line's text.
func (t *desiredTable) setService(e *entry, svc ipvs.Service) {
	svc.Scheduler, svc.PersistenceEngine = t.intern(svc.Scheduler), t.intern(svc.PersistenceEngine)
	e.svc = svc
}

// add makes k's entry svc, with no destinations, and returns it.
func (t *desiredTable) add(k ipvs.ServiceKey, svc ipvs.Service, line int) *entry {
	i, ok := t.index[k]
	if !ok {
		i = int32(len(t.entries))
		t.index[k] = i
		t.clip() // the append may move the entries
		t.entries = append(t.entries, entry{})
	}
	e := &t.entries[i]
	*e = entry{svc: svc, line: line, owned: true}
	return e
}

// find returns k's entry, or nil if the table has no such service.
func (t *desiredTable) find(k ipvs.ServiceKey) *entry {
	if !t.hitOK || t.hitKey != k {
		i, ok := t.index[k]
		if !ok {
			return nil
		}
		t.hitKey, t.hit, t.hitOK = k, i, true
	}
	if e := &t.entries[t.hit]; !e.gone {
		return e
	}
	return nil
}

// apply applies line number line, with the record of its destination
// (see destOf) if it was made already, else nil; the error is ipvsadm's
// message for what the kernel would have refused.
func (t *desiredTable) apply(line int, cmd *cli.Command, rec *dest) error {
	switch cmd.Cmd {
	case cli.CmdFlush:
		t.entries, t.index, t.ownAll, t.hitOK = nil, map[ipvs.ServiceKey]int32{}, true, false
		return nil
	case cli.CmdTimeout:
		if t.timeouts == nil {
			t.timeouts = &ipvs.Timeouts{}
		}
		setNonZero(&t.timeouts.TCP, cmd.Timeouts.TCP)
		setNonZero(&t.timeouts.TCPFin, cmd.Timeouts.TCPFin)
		setNonZero(&t.timeouts.UDP, cmd.Timeouts.UDP)
		return nil
	case cli.CmdStartDaemon:
		d := cmd.Daemon
		d.Interface = strings.Clone(d.Interface)
		t.daemons[d.State] = &d
		return nil
	case cli.CmdStopDaemon:
		delete(t.daemons, cmd.Daemon.State)
		return nil
	case cli.CmdZero:
		c := *cmd
		// Only the service's identity counts, and the names would keep
		// the line's text.
		c.Service.Scheduler, c.Service.PersistenceEngine = "", ""
		t.zero = append(t.zero, &c)
		return nil
	case cli.CmdRestore:
		return fmt.Errorf("-R in a restore: its input is already being read")
	case cli.CmdList, cli.CmdSave, cli.CmdHelp, cli.CmdVersion:
		return fmt.Errorf("%s is not a change of the table", cmd.Cmd)
	}
	k := cmd.Service.Key()
	e := t.find(k)
	switch cmd.Cmd {
	case cli.CmdAdd:
		t.setService(t.add(k, cmd.Service, line), cmd.Service)
		return nil
	case cli.CmdEdit:
		if e == nil {
			return ipvsadmError("No such service")
		}
		t.setService(e, cmd.Service)
		e.line, e.owned = line, true
		return nil
	case cli.CmdDel:
		if e == nil {
			return ipvsadmError("No such service")
		}
		e.gone, e.owned, e.dests, e.kernel = true, true, nil, nil
		return nil
	}
	if e == nil {
		return ipvsadmError("Service not defined")
	}
	e.owned = true
	ds := e.own()
	if rec == nil && cmd.Cmd != cli.CmdDelDest {
		d := destOf(&cmd.Dest, k, line)
		rec = &d
	}
	dk := cmd.Dest.Key(k)
	i := 0
	for i < len(ds) && !ds[i].is(dk) {
		i++
	}
	switch cmd.Cmd {
	case cli.CmdAddDest:
		if i < len(ds) {
			ds[i] = *rec
			break
		}
		if t.last != e {
			t.clip()
			t.last, t.scratch = e, append(t.scratch[:0], ds...)
			ds = t.scratch
		}
		e.dests = append(ds, *rec)
		t.scratch = e.dests
	case cli.CmdEditDest:
		if i == len(ds) {
			return ipvsadmError("No such destination")
		}
		ds[i] = *rec
	case cli.CmdDelDest:
		if i == len(ds) {
			return ipvsadmError("No such destination")
		}
		e.dests = append(ds[:i], ds[i+1:]...)
	}
	return nil
}

// clip gives the entry last added to destinations of its own, exactly
// as many as it has: while it is last they grow in the table's scratch,
// since a service's -a lines mostly come together, so that the room of
// appending is neither garbage nor left with every service.
func (t *desiredTable) clip() {
	if t.last != nil {
		t.last.dests = slices.Clone(t.last.dests)
	}
	t.last, t.scratch = nil, t.scratch[:0]
}

func setNonZero(dst *time.Duration, v time.Duration) {
	if v != 0 {
		*dst = v
	}
}

// desired reports whether the entry is a service to converge to.
func (t *desiredTable) desired(e *entry) bool { return !e.gone && (t.ownAll || e.owned) }

// owns tells the services of the kernel's table that are the input's.
func (t *desiredTable) owns(s ipvs.Service) bool {
	if t.ownAll {
		return true
	}
	i, ok := t.index[s.Key()]
	return ok && t.entries[i].owned
}

// count is the number of the entry's service and destinations.
func (e *entry) count() int {
	if e.kernel != nil {
		return 1 + len(e.kernel)
	}
	return 1 + len(e.dests)
}

// virtualServer returns the entry as the library's, its destinations
// taken from room, which it returns less what it used.
func (e *entry) virtualServer(room []ipvs.Destination) (ipvs.VirtualServer, []ipvs.Destination) {
	n := e.count() - 1
	ds := room[:n:n]
	for j := range e.kernel {
		ds[j] = e.kernel[j].destination()
	}
	for j := range e.dests {
		ds[j] = e.dests[j].destination()
	}
	return ipvs.VirtualServer{Service: e.svc, Destinations: ds}, room[n:]
}
