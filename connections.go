package ipvs

import (
	"context"
	"io"
	"iter"
	"net/netip"
	"time"

	"github.com/ipvs-go/ipvs/internal/procfs"
)

// Connection is one entry of the kernel's IPVS connection table: a
// connection that a virtual service forwards, or a persistence template
// (the entry that ties a client to a destination for a persistent
// service's timeout; its client port is 0, and for a fwmark service its
// Protocol is 0, "IP", and its Virtual address holds the mark).
type Connection struct {
	// Protocol is the transport protocol, from the kernel's name for it:
	// ProtocolTCP, ProtocolUDP, ProtocolSCTP, 1 for ICMP, 58 for ICMPv6,
	// 0 for a fwmark template, or the number of another.
	Protocol Protocol
	// Client is the client's address and port (the table's FromIP:FPrt).
	Client netip.AddrPort
	// Virtual is the virtual service's address and port the client
	// reached (ToIP:TPrt).
	Virtual netip.AddrPort
	// Destination is the real server's address and port (DestIP:DPrt).
	// Its family differs from the others' for a tunnelled destination of
	// the other family.
	Destination netip.AddrPort
	// State is the protocol state as the kernel names it: ESTABLISHED,
	// SYN_RECV, FIN_WAIT, TIME_WAIT, CLOSE_WAIT, ... for TCP and SCTP,
	// UDP for UDP, NONE for ICMP; for a template, NONE until a connection
	// it made is established, then ASSURED.
	State string
	// Expires is the time left before the entry expires, in whole seconds
	// (rounded down). An entry whose timer is already due reads as 0.
	Expires time.Duration
	// PersistenceEngine is the name of the service's persistence engine,
	// such as "sip", if the entry carries engine data, as the engine's
	// templates do; empty otherwise, and for the connections themselves.
	PersistenceEngine string
	// PEData is that engine's data, as the kernel prints it: the SIP
	// Call-ID for "sip".
	PEData string
	// Synced reports an entry learned from a connection synchronization
	// daemon (the kernel's origin SYNC, in /proc/net/ip_vs_conn_sync),
	// rather than made here (LOCAL).
	Synced bool
}

// ConnectionFilter selects entries of the connection table; its zero
// value selects all.
type ConnectionFilter struct {
	// Service selects the entries of one virtual service by the fields
	// that identify it, each set one narrowing the selection: Protocol;
	// Address, the virtual address the client reached, as the service's
	// Key has it (with a zero Family, an IPv4-mapped address is IPv4);
	// and Port, unless 0 (a port-zero persistent service's connections
	// keep the port the client used, so 0 selects every port).
	//
	// The table does not record firewall marks: a packet a fwmark service
	// balances keeps its own protocol, address and port there. So a
	// Service with an FWMark selects, instead, the entries forwarded to
	// one of that service's destinations (read over netlink when the
	// iteration starts; an entry of another service that shares one is
	// selected too) and its persistence templates, whose Protocol is 0
	// and Virtual address holds the mark. Its Family says which.
	Service Service
	// Destination, if valid, selects the entries forwarded to that real
	// server; its Port, unless 0, must match too.
	Destination netip.AddrPort
}

// Connections returns an iterator over the entries of the namespace's
// IPVS connection table that f selects, parsed as they are read, so that
// memory stays flat whatever the table's size. An error ends the
// iteration. ctx is checked between chunks of lines; a read(2) under way
// is not interrupted, but each is short (see below).
//
// The kernel has no netlink command for this table: it is the procfs
// files /proc/net/ip_vs_conn (which has the persistence engine data) and
// /proc/net/ip_vs_conn_sync (which has the origin), both read here, side
// by side, opened in the client's namespace. What that costs: the kernel
// keeps one hash table for the connections of every namespace, and each
// read(2) returns at most a page of text (4 KiB: about 50 IPv4 entries,
// 25 IPv6) after walking the table, under RCU, from its first bucket to
// the position reached, counting other namespaces' entries on the way.
// Reading n entries thus costs the kernel time in O(N·n/50), N the
// entries of all namespaces, twice over (once per file), and then the
// text is printed and parsed. As with any dump, entries that come or go
// during the read may be missed or seen twice. For counts per
// destination, the netlink counters (Destination.ActiveConnections,
// InactiveConnections, PersistentConnections) cost far less.
func (c *Client) Connections(ctx context.Context, f ConnectionFilter) iter.Seq2[Connection, error] {
	return func(yield func(Connection, error) bool) {
		m, err := c.connMatcher(ctx, f)
		if err != nil {
			yield(Connection{}, err)
			return
		}
		plain, sync, err := c.openConnTables()
		if err != nil {
			yield(Connection{}, err)
			return
		}
		defer plain.Close()
		defer sync.Close()
		for pc, err := range procfs.Scan(ctx, plain, sync) {
			if err != nil {
				yield(Connection{}, &Error{Op: opConnections, Err: err})
				return
			}
			conn := Connection{Protocol: Protocol(pc.Protocol), Client: pc.Client, Virtual: pc.Virtual, Destination: pc.Destination,
				State: pc.State, Expires: pc.Expires, PersistenceEngine: pc.PEName, PEData: pc.PEData, Synced: pc.Synced}
			if m.match(&conn) && !yield(conn, nil) {
				return
			}
		}
	}
}

// ConnectionStates returns how many entries of the connection table f
// selects are in each state, by the kernel's state names (see
// Connection.State). It reads the whole table, as Connections does.
func (c *Client) ConnectionStates(ctx context.Context, f ConnectionFilter) (map[string]int, error) {
	states := map[string]int{}
	for conn, err := range c.Connections(ctx, f) {
		if err != nil {
			return nil, err
		}
		states[conn.State]++
	}
	return states, nil
}

// openConnTables opens both tables in the client's namespace; the open
// files stay bound to it, whichever thread reads them.
func (c *Client) openConnTables() (plain, sync io.ReadCloser, err error) {
	if c.proc == nil {
		return nil, nil, &Error{Op: opConnections, Err: errNoProc}
	}
	plain, sync, err = c.proc.OpenConns()
	if err != nil {
		return nil, nil, procError(opConnections, err)
	}
	return plain, sync, nil
}

// connMatcher reads what f needs from the kernel: a fwmark service's
// destinations.
func (c *Client) connMatcher(ctx context.Context, f ConnectionFilter) (*connMatcher, error) {
	// The table holds addresses as the kernel reads them back: a
	// service's as its Key has it (so the family decides whether a mapped
	// IPv4 address is IPv4, and a zone goes), and an IPv4 destination's in
	// its 4-byte form.
	f.Destination = netip.AddrPortFrom(f.Destination.Addr().Unmap(), f.Destination.Port())
	if f.Service.Address.IsValid() {
		f.Service.Address = f.Service.Key().Address
	}
	m := &connMatcher{f: f}
	svc := f.Service
	if svc.FWMark == 0 {
		return m, nil
	}
	dests, err := c.Destinations(ctx, svc)
	if err != nil {
		return nil, err
	}
	m.dests = make(map[netip.AddrPort]bool, len(dests))
	for _, d := range dests {
		m.dests[netip.AddrPortFrom(d.Address, d.Port)] = true
	}
	m.template = fwmarkTemplateAddr(svc)
	return m, nil
}

// connMatcher is a ConnectionFilter made ready to match.
type connMatcher struct {
	f ConnectionFilter
	// dests are a fwmark service's destinations; template is the address
	// that holds the mark in its persistence templates.
	dests    map[netip.AddrPort]bool
	template netip.Addr
}

// fwmarkTemplateAddr is the virtual address of a fwmark service's
// persistence templates: ip_vs_sched_persist puts the mark, in network
// order, in the first four bytes of the address.
func fwmarkTemplateAddr(svc Service) netip.Addr {
	m := svc.FWMark
	b := [4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}
	if svc.Family == FamilyIPv6 {
		var a [16]byte
		copy(a[:], b[:])
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4(b)
}

// match reports whether the filter selects c.
func (m *connMatcher) match(c *Connection) bool {
	if d := m.f.Destination; d.IsValid() {
		if c.Destination.Addr() != d.Addr() || d.Port() != 0 && c.Destination.Port() != d.Port() {
			return false
		}
	}
	svc := &m.f.Service
	if svc.FWMark != 0 {
		if c.Protocol == 0 && c.Virtual.Addr() == m.template {
			return true
		}
		return m.dests[c.Destination] || m.dests[netip.AddrPortFrom(c.Destination.Addr(), 0)]
	}
	if svc.Protocol != 0 && c.Protocol != svc.Protocol {
		return false
	}
	if svc.Address.IsValid() && c.Virtual.Addr() != svc.Address {
		return false
	}
	return svc.Port == 0 || c.Virtual.Port() == svc.Port
}
