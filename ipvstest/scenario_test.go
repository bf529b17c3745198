package ipvstest

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// The differential scenario: steps that the unit tests run on the model
// and the kernel tests run on the model and on the kernel side by side,
// comparing every error and, after each step, the whole table.

// step is one action: a client call, or a raw request for what the
// client refuses to send but the kernel must still be modelled for.
type step struct {
	name string
	do   func(ctx context.Context, c *ipvs.Client) error
	raw  *rawRequest
	// want is the result: nil, the kernel's errno, or os.ErrInvalid for
	// the client's own refusal.
	want error
	// unreadable: the table now holds what the client refuses to read.
	unreadable bool
}

type rawRequest struct {
	cmd   uint8
	flags uint16
	body  func(w *fakekernel.Writer)
}

var (
	sTCP  = ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "rr"}
	sUDP6 = ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("2001:db8::1"), Port: 53, Scheduler: "wlc",
		Flags: ipvs.FlagPersistent, Timeout: 300 * time.Second, Netmask: ipvs.PrefixMask(64)}
	sFWM = ipvs.Service{Family: ipvs.FamilyIPv4, FWMark: 7, Scheduler: "sh", Flags: ipvs.FlagSHFallback | ipvs.FlagSHPort}
	sSIP = ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("10.0.0.5"), Port: 5060, Scheduler: "rr",
		PersistenceEngine: "sip", Flags: ipvs.FlagPersistent, Timeout: 60 * time.Second, Netmask: ipvs.PrefixMask(24)}
	sFWM6    = ipvs.Service{Family: ipvs.FamilyIPv6, FWMark: 0x10000, Scheduler: "mh", Flags: ipvs.FlagOnePacket}
	sMissing = ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.9.9.9"), Port: 1, Scheduler: "rr"}

	dMasq = ipvs.Destination{Address: netip.MustParseAddr("192.168.7.2"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 3}
	dGUE  = ipvs.Destination{Address: netip.MustParseAddr("192.168.7.4"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 2,
		TunnelType: ipvs.TunnelGUE, TunnelPort: 6080, TunnelFlags: ipvs.TunnelChecksum}
	dRoute6 = ipvs.Destination{Address: netip.MustParseAddr("2001:db8::2"), Port: 53, Forward: ipvs.ForwardDirectRoute,
		Weight: 100, UpperThreshold: 1000, LowerThreshold: 800}
	dMixed = ipvs.Destination{Address: netip.MustParseAddr("2001:db8::7"), Port: 80, Forward: ipvs.ForwardTunnel, Weight: 1,
		TunnelType: ipvs.TunnelGRE}
	dLocal = ipvs.Destination{Address: netip.MustParseAddr("127.0.0.1"), Port: 80, Forward: ipvs.ForwardMasquerade, Weight: 1}

	master = ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "sync0", SyncID: 7, MaxLength: 1000,
		Group: netip.MustParseAddr("239.1.2.3"), Port: 12345, TTL: 2}
	backup = ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "sync0", SyncID: 9, Group: netip.MustParseAddr("ff02::81"), Port: 8849, TTL: 1}
)

func with[T any](v T, f func(*T)) T { f(&v); return v }

func create(s ipvs.Service) func(context.Context, *ipvs.Client) error {
	return func(ctx context.Context, c *ipvs.Client) error { return c.CreateService(ctx, s) }
}

func update(s ipvs.Service) func(context.Context, *ipvs.Client) error {
	return func(ctx context.Context, c *ipvs.Client) error { return c.UpdateService(ctx, s) }
}

func remove(s ipvs.Service) func(context.Context, *ipvs.Client) error {
	return func(ctx context.Context, c *ipvs.Client) error { return c.RemoveService(ctx, s) }
}

func createDest(s ipvs.Service, d ipvs.Destination) func(context.Context, *ipvs.Client) error {
	return func(ctx context.Context, c *ipvs.Client) error { return c.CreateDestination(ctx, s, d) }
}

func updateDest(s ipvs.Service, d ipvs.Destination) func(context.Context, *ipvs.Client) error {
	return func(ctx context.Context, c *ipvs.Client) error { return c.UpdateDestination(ctx, s, d) }
}

func removeDest(s ipvs.Service, d ipvs.Destination) func(context.Context, *ipvs.Client) error {
	return func(ctx context.Context, c *ipvs.Client) error { return c.RemoveDestination(ctx, s, d) }
}

func start(d ipvs.Daemon) func(context.Context, *ipvs.Client) error {
	return func(ctx context.Context, c *ipvs.Client) error { return c.StartDaemon(ctx, d) }
}

func stop(s ipvs.DaemonState) func(context.Context, *ipvs.Client) error {
	return func(ctx context.Context, c *ipvs.Client) error { return c.StopDaemon(ctx, s) }
}

func timeouts(t ipvs.Timeouts) func(context.Context, *ipvs.Client) error {
	return func(ctx context.Context, c *ipvs.Client) error { return c.SetTimeouts(ctx, t) }
}

// rawSvc is the identity of a service in a raw request.
func rawSvc(s ipvs.Service) svcSpec {
	k := modelKey(s.Key())
	a := toAddr(k.af, k.addr)
	return svcSpec{af: k.af, proto: k.proto, addr: a.String(), port: k.port, fwmark: k.fwmark, identity: true}
}

// rawNewService creates 10.0.0.9:PORT/tcp with the given settings.
func rawNewService(port uint16, flags, mask, timeout uint32, netmask []byte) *rawRequest {
	s := svcSpec{af: ipvsh.AFInet, proto: 6, addr: "10.0.0.9", port: port, sched: "rr", flags: flags, mask: mask,
		timeout: timeout, netmask: netmask}
	return &rawRequest{cmd: ipvsh.CmdNewService, body: s.put}
}

// rawDest adds a destination to sTCP, with raw settings.
func rawDest(cmd uint8, d destSpec) *rawRequest {
	return &rawRequest{cmd: cmd, body: both(rawSvc(sTCP), d)}
}

func rawTimeout(attr uint16, v uint32) *rawRequest {
	return &rawRequest{cmd: ipvsh.CmdSetConfig, body: func(w *fakekernel.Writer) { w.U32(attr, v) }}
}

func le32(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }

// scenario is the list of steps, in order; each leaves the table as the
// next one expects.
func scenario() []step {
	return []step{
		{name: "create tcp", do: create(sTCP)},
		{name: "create tcp again", do: create(sTCP), want: syscall.EEXIST},
		{name: "create udp6 persistent /64", do: create(sUDP6)},
		{name: "create fwmark", do: create(sFWM)},
		{name: "create sip", do: create(sSIP)},
		{name: "create fwmark6 onepacket", do: create(sFWM6)},
		{name: "unknown scheduler", do: create(with(sMissing, func(s *ipvs.Service) { s.Scheduler = "nosuch" })), want: syscall.ENOENT},
		{name: "unknown engine", do: create(with(sMissing, func(s *ipvs.Service) { s.PersistenceEngine = "nosuch" })), want: syscall.ENOENT},
		{name: "update tcp: scheduler, one flag", do: update(with(sTCP, func(s *ipvs.Service) {
			s.Scheduler, s.Flags, s.FlagsMask = "wlc", ipvs.FlagOnePacket, ipvs.FlagOnePacket
		}))},
		{name: "update missing", do: update(sMissing), want: syscall.ESRCH},
		{name: "remove missing", do: remove(sMissing), want: syscall.ESRCH},
		{name: "dest masq", do: createDest(sTCP, dMasq)},
		{name: "dest masq again", do: createDest(sTCP, dMasq), want: syscall.EEXIST},
		{name: "dest of missing service", do: createDest(sMissing, dMasq), want: syscall.ESRCH},
		{name: "dest gue", do: createDest(sTCP, dGUE)},
		{name: "dest droute6 thresholds", do: createDest(sUDP6, dRoute6)},
		{name: "dest local", do: createDest(sSIP, dLocal)},
		{name: "update dest weight", do: updateDest(sTCP, with(dMasq, func(d *ipvs.Destination) { d.Weight = 0 }))},
		{name: "update missing dest", do: updateDest(sTCP, with(dMasq, func(d *ipvs.Destination) { d.Port = 1 })), want: syscall.ENOENT},
		{name: "remove missing dest", do: removeDest(sTCP, with(dMasq, func(d *ipvs.Destination) { d.Port = 1 })), want: syscall.ENOENT},
		{name: "dest mixed tunnel", do: createDest(sTCP, dMixed)},
		{name: "daemon beside mixed dest", do: start(master), want: syscall.EINVAL},
		{name: "remove mixed dest", do: removeDest(sTCP, dMixed)},
		{name: "start master", do: start(master)},
		{name: "start master again", do: start(master), want: syscall.EEXIST},
		{name: "backup on missing interface", do: start(with(backup, func(d *ipvs.Daemon) { d.Interface = "nosuch0" })), want: syscall.ENODEV},
		{name: "start backup", do: start(backup)},
		{name: "mixed dest beside daemon", do: createDest(sTCP, dMixed), want: syscall.EINVAL},
		{name: "stop master", do: stop(ipvs.DaemonMaster)},
		{name: "stop master again", do: stop(ipvs.DaemonMaster), want: syscall.ESRCH},
		{name: "stop backup", do: stop(ipvs.DaemonBackup)},
		{name: "backup on lo with defaults", do: start(ipvs.Daemon{State: ipvs.DaemonBackup, Interface: "lo", SyncID: 1})},
		{name: "master on lo with defaults", do: start(ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "lo", SyncID: 300})},
		{name: "stop both", do: func(ctx context.Context, c *ipvs.Client) error {
			if err := c.StopDaemon(ctx, ipvs.DaemonMaster); err != nil {
				return err
			}
			return c.StopDaemon(ctx, ipvs.DaemonBackup)
		}},
		{name: "backup with a short max length", do: start(with(backup, func(d *ipvs.Daemon) { d.MaxLength = 100 }))},
		{name: "stop it", do: stop(ipvs.DaemonBackup)},
		{name: "timeouts", do: timeouts(ipvs.Timeouts{TCP: 1000 * time.Second, TCPFin: 20 * time.Second, UDP: 30 * time.Second})},
		{name: "tcp timeout only", do: timeouts(ipvs.Timeouts{TCP: 500 * time.Second})},
		{name: "zero service", do: func(ctx context.Context, c *ipvs.Client) error { return c.ZeroServiceStats(ctx, sTCP) }},
		{name: "zero missing", do: func(ctx context.Context, c *ipvs.Client) error { return c.ZeroServiceStats(ctx, sMissing) }, want: syscall.ESRCH},
		{name: "zero all", do: func(ctx context.Context, c *ipvs.Client) error { return c.ZeroStats(ctx) }},

		// What the client refuses, sent raw.
		{name: "raw weight 2^31", raw: rawDest(ipvsh.CmdNewDest, destSpec{addr: "10.1.0.1", port: 80, weight: 1 << 31, tunType: -1}), want: syscall.ERANGE},
		{name: "raw lower above upper 0", raw: rawDest(ipvsh.CmdNewDest, destSpec{addr: "10.1.0.1", port: 80, lthresh: 10, tunType: -1}), want: syscall.ERANGE},
		{name: "raw upper above INT_MAX", raw: rawDest(ipvsh.CmdNewDest, destSpec{addr: "10.1.0.1", port: 80, uthresh: 1 << 31, tunType: -1}), want: syscall.EINVAL},
		{name: "raw gue without port", raw: rawDest(ipvsh.CmdNewDest, destSpec{addr: "10.1.0.1", port: 80, fwd: ipvsh.ConnFTunnel, tunType: ipvsh.TunnelTypeGUE}), want: syscall.EINVAL},
		{name: "raw update missing dest with weight 2^31", raw: rawDest(ipvsh.CmdSetDest, destSpec{addr: "10.1.0.1", port: 80, weight: 1 << 31, tunType: -1}), want: syscall.ERANGE},
		{name: "raw dest 0.0.0.0:0", raw: rawDest(ipvsh.CmdNewDest, destSpec{addr: "0.0.0.0", tunType: -1}), want: syscall.EINVAL},
		{name: "raw dest multicast", raw: rawDest(ipvsh.CmdNewDest, destSpec{addr: "224.1.1.1", port: 80, tunType: -1}), want: syscall.EINVAL},
		{name: "raw dest link-local6", raw: &rawRequest{cmd: ipvsh.CmdNewDest, body: both(rawSvc(sUDP6), destSpec{addr: "fe80::1", port: 53, tunType: -1})}, want: syscall.EINVAL},
		{name: "raw dest lo broadcast", raw: rawDest(ipvsh.CmdNewDest, destSpec{addr: "127.255.255.255", port: 80, tunType: -1}), want: syscall.EINVAL},
		{name: "raw dest class e", raw: rawDest(ipvsh.CmdNewDest, destSpec{addr: "240.0.0.1", port: 80, tunType: -1})},
		{name: "raw dest v4-mapped6", raw: &rawRequest{cmd: ipvsh.CmdNewDest, body: both(rawSvc(sUDP6), destSpec{addr: "::ffff:10.0.0.1", port: 53, tunType: -1})}, want: syscall.EINVAL},
		{name: "raw dest loopback6", raw: &rawRequest{cmd: ipvsh.CmdNewDest, body: both(rawSvc(sUDP6), destSpec{addr: "::1", port: 53, tunType: -1})}},
		{name: "raw mixed masq", raw: rawDest(ipvsh.CmdNewDest, destSpec{af: ipvsh.AFInet6, addr: "2001:db8::9", port: 80, tunType: -1}), want: syscall.EINVAL},
		{name: "raw dest missing weight", raw: &rawRequest{cmd: ipvsh.CmdNewDest, body: both(rawSvc(sTCP), destSpec{addr: "10.1.0.1", port: 80, identity: true})}, want: syscall.EINVAL},
		{name: "raw flags under mask 0", raw: rawNewService(1, ipvsh.SvcFPersistent, 0, 0, nil)},
		{name: "raw unknown flag bit", raw: rawNewService(2, 0x80000000|ipvsh.SvcFHashed, ^uint32(0), 0, nil)},
		{name: "raw timeout wraps", raw: rawNewService(3, ipvsh.SvcFPersistent, ^uint32(0), 17179870, nil)},
		{name: "raw timeout 2^32-1", raw: rawNewService(4, ipvsh.SvcFPersistent, ^uint32(0), ^uint32(0), nil)},
		{name: "raw non-contiguous mask", raw: rawNewService(5, ipvsh.SvcFPersistent, ^uint32(0), 60, []byte{255, 0, 255, 0})},
		{name: "raw update to mask 0 keeps flags", raw: &rawRequest{cmd: ipvsh.CmdSetService, body: svcSpec{af: ipvsh.AFInet, proto: 6,
			addr: "10.0.0.9", port: 5, sched: "none", timeout: 60, netmask: []byte{255, 0, 255, 0}}.put}},
		{name: "raw ipv6 netmask 0", raw: &rawRequest{cmd: ipvsh.CmdNewService, body: svcSpec{af: ipvsh.AFInet6, proto: 6, addr: "2001:db8::9",
			port: 1, sched: "rr", mask: ^uint32(0), netmask: le32(0)}.put}, want: syscall.EINVAL},
		{name: "raw ipv6 netmask 129", raw: &rawRequest{cmd: ipvsh.CmdNewService, body: svcSpec{af: ipvsh.AFInet6, proto: 6, addr: "2001:db8::9",
			port: 1, sched: "rr", mask: ^uint32(0), netmask: le32(129)}.put}, want: syscall.EINVAL},
		{name: "raw ipv6 netmask 0 on existing", raw: &rawRequest{cmd: ipvsh.CmdSetService, body: svcSpec{af: ipvsh.AFInet6, proto: 17,
			addr: "2001:db8::1", port: 53, sched: "wlc", mask: ^uint32(0), netmask: le32(0)}.put}, want: syscall.EINVAL},
		{name: "raw protocol 200", raw: &rawRequest{cmd: ipvsh.CmdNewService, body: svcSpec{af: ipvsh.AFInet, proto: 200, addr: "10.0.0.9",
			port: 6, sched: "rr", mask: ^uint32(0)}.put}, unreadable: true},
		{name: "raw remove protocol 200", raw: &rawRequest{cmd: ipvsh.CmdDelService, body: svcSpec{af: ipvsh.AFInet, proto: 200,
			addr: "10.0.0.9", port: 6, identity: true}.put}},
		{name: "raw family 7", raw: &rawRequest{cmd: ipvsh.CmdNewService, body: svcSpec{af: 7, proto: 6, addr: "10.0.0.9",
			port: 6, sched: "rr", mask: ^uint32(0)}.put}, want: syscall.EAFNOSUPPORT},
		{name: "raw service missing timeout", raw: &rawRequest{cmd: ipvsh.CmdNewService, body: rawSvc(sMissing).put}, want: syscall.EINVAL},
		{name: "raw no service", raw: &rawRequest{cmd: ipvsh.CmdNewService}, want: syscall.EINVAL},
		{name: "raw short top-level service", raw: &rawRequest{cmd: ipvsh.CmdNewService, body: func(w *fakekernel.Writer) { w.U16(ipvsh.CmdAttrService, 1) }}, want: syscall.ERANGE},
		{name: "raw short timeout", raw: &rawRequest{cmd: ipvsh.CmdSetConfig, body: func(w *fakekernel.Writer) { w.U16(ipvsh.CmdAttrTimeoutTCP, 1) }}, want: syscall.ERANGE},
		{name: "raw timeout 2^31", raw: rawTimeout(ipvsh.CmdAttrTimeoutTCP, 1<<31), want: syscall.EINVAL},
		{name: "raw timeout past INT_MAX/HZ", raw: rawTimeout(ipvsh.CmdAttrTimeoutUDP, 8589935), want: syscall.EINVAL},
		{name: "raw timeout at INT_MAX/HZ", raw: rawTimeout(ipvsh.CmdAttrTimeoutUDP, 8589934)},
		{name: "raw daemon state 3", raw: &rawRequest{cmd: ipvsh.CmdNewDaemon, body: daemonSpec{state: 3, ifname: "lo", group: "239.1.1.1"}.put}, want: syscall.EINVAL},
		{name: "raw stop state 3", raw: &rawRequest{cmd: ipvsh.CmdDelDaemon, body: stateOnly(3)}, want: syscall.EINVAL},
		{name: "raw daemon group not multicast", raw: &rawRequest{cmd: ipvsh.CmdNewDaemon, body: daemonSpec{state: 1, ifname: "lo", group: "10.0.0.1"}.put}, want: syscall.EINVAL},
		{name: "raw daemon long interface", raw: &rawRequest{cmd: ipvsh.CmdNewDaemon, body: daemonSpec{state: 1, ifname: "abcdefghijklmnopqrst", group: "239.1.1.1"}.put}, want: syscall.EINVAL},
		{name: "raw master sync id 1000", raw: &rawRequest{cmd: ipvsh.CmdNewDaemon, body: daemonSpec{state: 1, ifname: "sync0", syncID: 1000, group: "239.1.1.1", port: 0, ttl: 0}.put}},
		{name: "raw mixed tunnel beside daemon", raw: rawDest(ipvsh.CmdNewDest, destSpec{af: ipvsh.AFInet6, addr: "2001:db8::9", port: 80, fwd: ipvsh.ConnFTunnel, tunType: -1}), want: syscall.EINVAL},
		{name: "stop the raw master", do: stop(ipvs.DaemonMaster)},
		{name: "raw zero without family", raw: &rawRequest{cmd: ipvsh.CmdZero, body: func(w *fakekernel.Writer) { w.Nest(ipvsh.CmdAttrService, func() { w.U32(ipvsh.SvcAttrFwmark, 7) }) }}, want: syscall.EINVAL},
		{name: "raw info as a dump", raw: &rawRequest{cmd: ipvsh.CmdGetInfo, flags: nlmsg.FlagDump}, want: syscall.EOPNOTSUPP},
		{name: "raw dests without dump", raw: &rawRequest{cmd: ipvsh.CmdGetDest, body: rawSvc(sTCP).put}, want: syscall.EOPNOTSUPP},
		{name: "raw unknown command", raw: &rawRequest{cmd: 18}, want: syscall.EOPNOTSUPP},
		{name: "raw set info", raw: &rawRequest{cmd: ipvsh.CmdSetInfo}, want: syscall.EOPNOTSUPP},
		{name: "raw dests of a missing service", raw: &rawRequest{cmd: ipvsh.CmdGetDest, flags: nlmsg.FlagDump, body: rawSvc(sMissing).put}},

		{name: "remove dest", do: removeDest(sTCP, dGUE)},
		{name: "remove service with dests", do: remove(sUDP6)},
		{name: "flush", do: func(ctx context.Context, c *ipvs.Client) error { return c.Flush(ctx) }},
		{name: "remove after flush", do: remove(sTCP), want: syscall.ESRCH},
		{name: "client refuses bad input", do: create(with(sTCP, func(s *ipvs.Service) { s.Netmask = ipvs.PrefixMask(40) })), want: os.ErrInvalid},
	}
}
