package main

import (
	"fmt"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
	"github.com/ipvs-go/ipvs/reconcile"
)

// svcKey identifies a service as the kernel does: by mark and family, or
// by protocol, address and port.
type svcKey struct {
	fwmark uint32
	family ipvs.Family
	proto  ipvs.Protocol
	addr   netip.Addr
	port   uint16
}

func serviceKey(s ipvs.Service) svcKey {
	f := s.Family
	if f == 0 {
		f = ipvs.FamilyIPv4
		if s.Address.Is6() {
			f = ipvs.FamilyIPv6
		}
	}
	if s.FWMark != 0 {
		return svcKey{fwmark: s.FWMark, family: f}
	}
	return svcKey{family: f, proto: s.Protocol, addr: s.Address, port: s.Port}
}

func destKey(d ipvs.Destination) netip.AddrPort { return netip.AddrPortFrom(d.Address, d.Port) }

// ipvsadmError is a refusal spelled as ipvsadm spells the kernel's.
type ipvsadmError string

func (e ipvsadmError) Error() string { return string(e) }

// desiredTable is the table a restore converges to: the kernel's, with the
// restore's lines applied in order.
type desiredTable struct {
	order    []svcKey
	services map[svcKey]*ipvs.VirtualServer
	// owned are the services the lines name; all of them after -C or
	// with --flush.
	owned    map[svcKey]bool
	ownAll   bool
	timeouts *ipvs.Timeouts
	daemons  map[ipvs.DaemonState]*ipvs.Daemon
	zero     []*cli.Command
}

func newDesired(current []ipvs.VirtualServer, daemons []ipvs.Daemon, flush bool) *desiredTable {
	t := &desiredTable{services: map[svcKey]*ipvs.VirtualServer{}, owned: map[svcKey]bool{},
		daemons: map[ipvs.DaemonState]*ipvs.Daemon{}, ownAll: flush}
	for _, d := range daemons {
		t.daemons[d.State] = &d
	}
	if flush {
		return t
	}
	for i := range current {
		v := current[i]
		v.Destinations = append([]ipvs.Destination(nil), v.Destinations...)
		k := serviceKey(v.Service)
		t.order = append(t.order, k)
		t.services[k] = &v
	}
	return t
}

// apply applies one line; the error is ipvsadm's message for what the
// kernel would have refused.
func (t *desiredTable) apply(cmd *cli.Command) error {
	k := serviceKey(cmd.Service)
	v := t.services[k]
	switch cmd.Cmd {
	case cli.CmdFlush:
		t.order, t.services, t.ownAll = nil, map[svcKey]*ipvs.VirtualServer{}, true
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
		t.daemons[d.State] = &d
		return nil
	case cli.CmdStopDaemon:
		delete(t.daemons, cmd.Daemon.State)
		return nil
	case cli.CmdZero:
		t.zero = append(t.zero, cmd)
		return nil
	case cli.CmdList, cli.CmdSave:
		return fmt.Errorf("%s is not a change of the table", cmd.Cmd)
	}
	t.owned[k] = true
	switch cmd.Cmd {
	case cli.CmdAdd:
		if v == nil {
			t.order = append(t.order, k)
		}
		t.services[k] = &ipvs.VirtualServer{Service: cmd.Service}
		return nil
	case cli.CmdEdit:
		if v == nil {
			return ipvsadmError("No such service")
		}
		v.Service = cmd.Service
		return nil
	case cli.CmdDel:
		if v == nil {
			return ipvsadmError("No such service")
		}
		delete(t.services, k)
		return nil
	}
	if v == nil {
		return ipvsadmError("Service not defined")
	}
	dk := destKey(cmd.Dest)
	i := 0
	for i < len(v.Destinations) && destKey(v.Destinations[i]) != dk {
		i++
	}
	switch cmd.Cmd {
	case cli.CmdAddDest:
		if i == len(v.Destinations) {
			if v.Destinations == nil {
				// Services have a few destinations each, added one by
				// one: skip the first doublings.
				v.Destinations = make([]ipvs.Destination, 0, 8)
			}
			v.Destinations = append(v.Destinations, cmd.Dest)
		} else {
			v.Destinations[i] = cmd.Dest
		}
	case cli.CmdEditDest:
		if i == len(v.Destinations) {
			return ipvsadmError("No such destination")
		}
		v.Destinations[i] = cmd.Dest
	case cli.CmdDelDest:
		if i == len(v.Destinations) {
			return ipvsadmError("No such destination")
		}
		v.Destinations = append(v.Destinations[:i], v.Destinations[i+1:]...)
	}
	return nil
}

func setNonZero(dst *time.Duration, v time.Duration) {
	if v != 0 {
		*dst = v
	}
}

// desired returns the services to converge to, in the order first named.
func (t *desiredTable) desired() []ipvs.VirtualServer {
	out := make([]ipvs.VirtualServer, 0, len(t.services))
	seen := make(map[svcKey]bool, len(t.services))
	for _, k := range t.order {
		if v := t.services[k]; v != nil && !seen[k] && (t.ownAll || t.owned[k]) {
			seen[k] = true
			out = append(out, *v)
		}
	}
	return out
}

func (t *desiredTable) owns(s ipvs.Service) bool { return t.ownAll || t.owned[serviceKey(s)] }

// restore runs -R: it reads the whole input into the table it describes,
// then converges the kernel to it in one batch, so that what stays the
// same is never touched and no connection of it drops. Services the input
// does not name stay as they are, unless --flush (or a -C line) asks for
// the input's table alone, as ipvsadm-restore's flush does.
func (e *env) restore(cmd *cli.Command) int {
	// A restore builds a large table once and exits: it collects garbage
	// only when its heap nears 512 MiB (a save of 100,000 lines allocates
	// about 170 MiB in all), which saves a third of its time.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(512 << 20)
	current, err := e.client.VirtualServers(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	daemons, err := e.client.Daemons(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	t := newDesired(current, daemons, cmd.Flush)
	if code := e.readRestore(func(_ int, line *cli.Command) error {
		if line.NetNS != "" && line.NetNS != cmd.NetNS {
			return fmt.Errorf("--netns in a restore line")
		}
		return t.apply(line)
	}); code != 0 {
		return code
	}
	opts := reconcile.Options{Owns: t.owns, Drain: func(ipvs.Service) reconcile.DrainPolicy { return reconcile.DrainPolicyRemoveAtOnce }}
	plan, err := reconcile.Compute(current, t.desired(), opts)
	if err != nil {
		fmt.Fprintln(e.errw, err)
		return 2
	}
	return e.converge(plan, t, daemons, cmd.DryRun)
}

// converge applies a plan, then the timeouts and daemons it does not
// cover, and the zeroing of counters the input asked for.
func (e *env) converge(plan *reconcile.Plan, t *desiredTable, running []ipvs.Daemon, dryRun bool) int {
	var extra []string
	var writes []func() error
	if t.timeouts != nil {
		cur, err := e.client.Timeouts(e.ctx)
		if err != nil {
			return e.readFailed(err)
		}
		want := cur
		setNonZero(&want.TCP, t.timeouts.TCP)
		setNonZero(&want.TCPFin, t.timeouts.TCPFin)
		setNonZero(&want.UDP, t.timeouts.UDP)
		if want != cur {
			extra = append(extra, fmt.Sprintf("set timeouts: tcp %d tcpfin %d udp %d", secs(want.TCP), secs(want.TCPFin), secs(want.UDP)))
			writes = append(writes, func() error { return e.client.SetTimeouts(e.ctx, want) })
		}
	}
	for _, d := range running {
		if w := t.daemons[d.State]; w == nil || !sameDaemon(*w, d) {
			extra = append(extra, "stop daemon "+d.String())
			writes = append(writes, func() error { return e.client.StopDaemon(e.ctx, d.State) })
		}
	}
	for _, state := range []ipvs.DaemonState{ipvs.DaemonMaster, ipvs.DaemonBackup} {
		w := t.daemons[state]
		if w == nil || runningSame(running, *w) {
			continue
		}
		extra = append(extra, "start daemon "+w.String())
		writes = append(writes, func() error { return e.client.StartDaemon(e.ctx, *w) })
	}
	for _, z := range t.zero {
		extra = append(extra, "zero counters")
		writes = append(writes, func() error {
			if z.HasService {
				return e.client.ZeroServiceStats(e.ctx, z.Service)
			}
			return e.client.ZeroStats(e.ctx)
		})
	}
	if dryRun {
		e.out.WriteString(plan.String())
		for _, s := range extra {
			fmt.Fprintln(e.out, s)
		}
		return 0
	}
	code := 0
	if _, err := plan.Apply(e.ctx, e.client); err != nil {
		fmt.Fprintln(e.errw, err)
		code = 255
	}
	for i, w := range writes {
		if err := w(); err != nil {
			fmt.Fprintf(e.errw, "%s: %v\n", extra[i], err)
			code = 255
		}
	}
	return code
}

func secs(d time.Duration) int { return int(d / time.Second) }

// sameDaemon compares a desired daemon with a running one; the running
// one's zero fields were filled in by the kernel, so only the desired
// one's set fields count.
func sameDaemon(want, got ipvs.Daemon) bool {
	return want.State == got.State && want.Interface == got.Interface && want.SyncID == got.SyncID &&
		(want.MaxLength == 0 || want.MaxLength == got.MaxLength) &&
		(!want.Group.IsValid() || want.Group == got.Group) &&
		(want.Port == 0 || want.Port == got.Port) && (want.TTL == 0 || want.TTL == got.TTL)
}

func runningSame(running []ipvs.Daemon, want ipvs.Daemon) bool {
	for _, d := range running {
		if sameDaemon(want, d) {
			return true
		}
	}
	return false
}
