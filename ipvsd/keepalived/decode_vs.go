package keepalived

import (
	"math"
	"net/netip"
	"slices"
	"strings"
)

// schedulers are the schedulers keepalived 2.2.7 takes.
var schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "sh", "mh", "dh", "fo", "ovf", "lblcr", "sed", "nq", "twos"}

// maxWeight is IPVS's largest weight.
const maxWeight = math.MaxInt32

// virtualServer decodes "virtual_server ADDRESS [PORT]", "virtual_server
// fwmark N" or "virtual_server group NAME", and its block.
func (d *decoder) virtualServer(n *node) {
	vs := &VirtualServer{Pos: n.pos}
	args := n.args()
	switch {
	case len(args) == 0:
		d.errorfNode(n, "needs an address and port, fwmark N, or group NAME")
		return
	case args[0] == "group" || args[0] == "fwmark":
		if len(args) != 2 {
			d.errorfNode(n, "%s takes one value", args[0])
			return
		}
		if args[0] == "group" {
			vs.Group = args[1]
		} else if v, err := parseUint(args[1], 0, math.MaxUint32); d.check(n, err) {
			vs.FWMark = uint32(v)
		} else {
			return
		}
	default:
		a, err := parseAddr(args[0])
		if !d.check(n, err) {
			return
		}
		vs.Address = a
		if len(args) > 2 {
			d.errorfNode(n, "takes an address and a port, and %q follows them", args[2])
			return
		}
		if len(args) == 2 {
			p, err := parsePort(args[1])
			if !d.check(n, err) {
				return
			}
			vs.Port = p
		}
	}
	flag := func(name string) handler {
		return func(c *node) {
			if d.leaf(c) && !slices.Contains(vs.SchedulerFlags, name) {
				vs.SchedulerFlags = append(vs.SchedulerFlags, name)
			}
		}
	}
	set := func(dst *bool) handler {
		return func(c *node) { *dst = d.leaf(c) || *dst }
	}
	h := map[string]handler{
		"ip_family": func(c *node) {
			if v, ok := d.value(c, "inet or inet6"); ok {
				if v != "inet" && v != "inet6" {
					d.errorfNode(c, "%q is not inet or inet6", v)
					return
				}
				vs.Family = v
			}
		},
		"lb_algo":   d.scheduler(vs),
		"lvs_sched": d.scheduler(vs),
		"hashed": func(c *node) {
			d.rep.warnf(c.pos, "hashed", "not carried over: the flag means nothing to the kernel")
		},
		"ops":         set(&vs.OnePacket),
		"flag-1":      flag("flag-1"),
		"flag-2":      flag("flag-2"),
		"flag-3":      flag("flag-3"),
		"sh-port":     flag("sh-port"),
		"sh-fallback": flag("sh-fallback"),
		"mh-port":     flag("mh-port"),
		"mh-fallback": flag("mh-fallback"),
		"lb_kind":     func(c *node) { vs.Forwarding = d.forwarding(c) },
		"lvs_method":  func(c *node) { vs.Forwarding = d.forwarding(c) },
		"persistence_engine": func(c *node) {
			if v, ok := d.value(c, "an engine name"); ok {
				vs.PersistenceEngine = v
			}
		},
		"persistence_timeout": func(c *node) {
			if d.leaf(c) && len(c.words) == 1 {
				v := uint32(defaultPersistence)
				vs.PersistenceTimeout = &v
				return
			}
			d.number(c, 1, maxPersistence, &vs.PersistenceTimeout)
		},
		"persistence_granularity": func(c *node) {
			if v, ok := d.value(c, "a netmask or prefix length"); ok {
				vs.PersistenceGranularity = v
			}
		},
		"protocol": func(c *node) {
			if v, ok := d.value(c, "TCP, UDP or SCTP"); ok {
				v = strings.ToUpper(v)
				if v != "TCP" && v != "UDP" && v != "SCTP" {
					d.errorfNode(c, "%q is not TCP, UDP or SCTP", c.words[1])
					return
				}
				vs.Protocol = v
			}
		},
		"ha_suspend": func(c *node) {
			if set(&vs.HASuspend)(c); vs.HASuspend {
				d.rep.warnf(c.pos, "ha_suspend", "not carried over: ipvsd checks real servers whether or not the virtual address is up on this host")
			}
		},
		"smtp_alert": d.notCarried("ipvsd sends no mail; its metrics and API say when a server changes state"),
		"snmp_name":  d.notCarried("ipvsd has no SNMP agent; the virtual server's name is in its metrics and API"),
		"virtualhost": func(c *node) {
			if v, ok := d.value(c, "a host name"); ok {
				vs.VirtualHost = v
			}
		},
		"alpha":              set(&vs.Alpha),
		"omega":              set(&vs.Omega),
		"quorum_up":          func(c *node) { vs.QuorumUp = d.script(c, vs.QuorumUp) },
		"quorum_down":        func(c *node) { vs.QuorumDown = d.script(c, vs.QuorumDown) },
		"quorum":             func(c *node) { d.number(c, 1, math.MaxUint32, &vs.Quorum) },
		"hysteresis":         func(c *node) { d.number(c, 0, math.MaxUint32, &vs.Hysteresis) },
		"weight":             func(c *node) { d.number(c, 1, maxWeight, &vs.Weight) },
		"inhibit_on_failure": set(&vs.InhibitOnFailure),
		"sorry_server":       func(c *node) { d.sorryServer(c, vs) },
		"sorry_server_inhibit": func(c *node) {
			if !d.leaf(c) {
				return
			}
			if vs.SorryServer == nil {
				d.errorfNode(c, "comes before any sorry_server")
				return
			}
			vs.SorryServer.Inhibit = true
		},
		"sorry_server_lvs_method": func(c *node) {
			if vs.SorryServer == nil {
				d.errorfNode(c, "comes before any sorry_server")
				return
			}
			vs.SorryServer.Forwarding = d.forwarding(c)
		},
		"real_server": func(c *node) {
			if rs := d.realServer(c); rs != nil {
				vs.RealServers = append(vs.RealServers, rs)
			}
		},
	}
	d.block(n, merge(h, d.timing(&vs.Timing, 1)))
	d.cfg.VirtualServers = append(d.cfg.VirtualServers, vs)
}

// Defaults of keepalived's persistence.
const (
	defaultPersistence = 360        // seconds (IPVS_SVC_PERSISTENT_TIMEOUT)
	maxPersistence     = 86400 * 31 // LVS_MAX_TIMEOUT
)

func (d *decoder) scheduler(vs *VirtualServer) handler {
	return func(c *node) {
		v, ok := d.value(c, "a scheduler")
		if !ok {
			return
		}
		if !slices.Contains(schedulers, v) {
			d.errorfNode(c, "%q is not a scheduler keepalived knows: %s", v, strings.Join(schedulers, ", "))
			return
		}
		vs.Scheduler = v
	}
}

// notCarried is the handler of a keyword that ipvsd has nothing for.
func (d *decoder) notCarried(why string) handler {
	return func(c *node) { d.rep.warnf(c.pos, c.keyword(), "not carried over: %s", why) }
}

// forwarding reads "lvs_method NAT|DR|TUN [type ipip|gue port N|gre]
// [nocsum|csum|remcsum]".
func (d *decoder) forwarding(n *node) *Forwarding {
	m, ok := d.arg(n, 1, "NAT, DR or TUN")
	if !ok {
		return nil
	}
	f := &Forwarding{Pos: n.pos, Method: m}
	if m != "NAT" && m != "DR" && m != "TUN" {
		d.errorfNode(n, "%q is not NAT, DR or TUN", m)
		return nil
	}
	rest := n.words[2:]
	if m != "TUN" && len(rest) > 0 {
		d.errorfNode(n, "%s takes no tunnel options, and %q follows it", m, rest[0])
		return nil
	}
	for i := 0; i < len(rest); i++ {
		switch w := rest[i]; w {
		case "type", "port":
			if i+1 == len(rest) {
				d.errorfNode(n, "%s needs a value", w)
				return nil
			}
			i++
			if w == "port" {
				p, err := parseUint(rest[i], 1, math.MaxUint16)
				if !d.check(n, err) {
					return nil
				}
				f.TunnelPort = uint16(p)
			} else if v := rest[i]; v == "ipip" || v == "gue" || v == "gre" {
				f.TunnelType = v
			} else {
				d.errorfNode(n, "%q is not a tunnel type: ipip, gue or gre", v)
				return nil
			}
		case "nocsum", "csum", "remcsum":
			f.TunnelChecksum = w
		default:
			d.errorfNode(n, "%q is not a tunnel option: type, port, nocsum, csum or remcsum", w)
			return nil
		}
	}
	if (f.TunnelType == "gue") != (f.TunnelPort != 0) {
		d.errorfNode(n, "a gue tunnel needs a port, and only a gue tunnel takes one")
		return nil
	}
	return f
}

// server reads a server's "ADDRESS [PORT]".
func (d *decoder) server(n *node) (netip.Addr, uint16, bool) {
	args := n.args()
	if len(args) == 0 || len(args) > 2 {
		d.errorfNode(n, "takes an address and an optional port")
		return netip.Addr{}, 0, false
	}
	a, err := parseAddr(args[0])
	if !d.check(n, err) {
		return netip.Addr{}, 0, false
	}
	var p uint16
	if len(args) == 2 {
		if p, err = parsePort(args[1]); !d.check(n, err) {
			return netip.Addr{}, 0, false
		}
	}
	return a, p, true
}

func (d *decoder) sorryServer(n *node, vs *VirtualServer) {
	if !d.leaf(n) {
		return
	}
	a, p, ok := d.server(n)
	if !ok {
		return
	}
	if vs.SorryServer != nil {
		d.rep.warnf(n.pos, "sorry_server", "given twice: this one replaces the one at %s, as in keepalived", vs.SorryServer.Pos)
	}
	vs.SorryServer = &SorryServer{Pos: n.pos, Address: a, Port: p}
}

// realServer decodes "real_server ADDRESS [PORT]" and its block.
func (d *decoder) realServer(n *node) *RealServer {
	a, p, ok := d.server(n)
	if !ok {
		return nil
	}
	rs := &RealServer{Pos: n.pos, Address: a, Port: p}
	boolean := func(dst **bool) handler {
		return func(c *node) {
			if v, ok := d.flag(c); ok {
				*dst = &v
			}
		}
	}
	threshold := func(dst *uint32) handler {
		return func(c *node) {
			var v *uint32
			if d.number(c, 0, math.MaxUint32, &v); v != nil {
				*dst = *v
			}
		}
	}
	h := map[string]handler{
		"weight":             func(c *node) { d.number(c, 0, maxWeight, &rs.Weight) },
		"lvs_method":         func(c *node) { rs.Forwarding = d.forwarding(c) },
		"uthreshold":         threshold(&rs.UThreshold),
		"lthreshold":         threshold(&rs.LThreshold),
		"inhibit_on_failure": boolean(&rs.InhibitOnFailure),
		"alpha":              boolean(&rs.Alpha),
		"notify_up":          func(c *node) { rs.NotifyUp = d.script(c, rs.NotifyUp) },
		"notify_down":        func(c *node) { rs.NotifyDown = d.script(c, rs.NotifyDown) },
		"smtp_alert":         d.notCarried("ipvsd sends no mail; its metrics and API say when a server changes state"),
		"snmp_name":          d.notCarried("ipvsd has no SNMP agent"),
		"virtualhost": func(c *node) {
			if v, ok := d.value(c, "a host name"); ok {
				rs.VirtualHost = v
			}
		},
	}
	merge(h, d.timing(&rs.Timing, 1))
	merge(h, d.checkers(rs))
	if !d.block(n, h) {
		return nil
	}
	return rs
}

// script reads a hook: "KEYWORD COMMAND [USER [GROUP]]", where COMMAND
// is one word (quote it to give arguments) that keepalived splits again
// as a shell would. keepalived keeps the first of a hook given twice.
func (d *decoder) script(n *node, prev *Script) *Script {
	if !d.leaf(n) {
		return prev
	}
	if prev != nil {
		d.rep.warnf(n.pos, n.keyword(), "given twice: keepalived keeps the first, at %s, and so does the import", prev.Pos)
		return prev
	}
	s := d.command(n)
	if s == nil {
		return nil
	}
	if qw, _ := shellWords(n.text); len(qw) > 2 {
		s.User = qw[2]
		if len(qw) > 3 {
			s.Group = qw[3]
		}
	}
	return s
}

// command splits n's command as keepalived does: the statement is split
// with quotes and escapes, and its second word split again.
func (d *decoder) command(n *node) *Script {
	qw, ok := shellWords(n.text)
	if !ok {
		d.errorfNode(n, "a quote is not closed, or a backslash ends the line")
		return nil
	}
	if len(qw) < 2 {
		d.errorfNode(n, "needs a command")
		return nil
	}
	args, ok := shellWords(qw[1])
	if !ok || len(args) == 0 || args[0] == "" {
		d.errorfNode(n, "%q is not a command keepalived can run", qw[1])
		return nil
	}
	return &Script{Pos: n.pos, Args: args}
}
