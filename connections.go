package ipvs

import (
	"bytes"
	"math"
	"net/netip"
	"time"
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

// connFormat is the layout of one of the two connection tables.
type connFormat uint8

const (
	// connPlain is /proc/net/ip_vs_conn: ... State Expires [PEName PEData].
	connPlain connFormat = iota
	// connSync is /proc/net/ip_vs_conn_sync: ... State Origin Expires.
	connSync
)

// Headers of the two tables, as ip_vs_conn.c prints them.
const (
	connHeader     = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData"
	connSyncHeader = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires"
)

// connField names the columns in parse errors, as the headers do.
var connFields = [...]string{"Pro", "FromIP", "FPrt", "ToIP", "TPrt", "DestIP", "DPrt", "State", "Expires", "Origin", "PEName"}

const (
	fieldPro = iota
	fieldFromIP
	fieldFPrt
	fieldToIP
	fieldTPrt
	fieldDestIP
	fieldDPrt
	fieldState
	fieldExpires
	fieldOrigin
	fieldPEName
)

// connKeyEnd returns the length of the line's prefix that identifies the
// entry in both tables: up to the end of DPrt. The two tables print it
// with the same format, so it matches byte for byte.
func connKeyEnd(line []byte) int {
	i := 0
	for f := 0; f < 7; f++ {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		for i < len(line) && line[i] != ' ' {
			i++
		}
	}
	return i
}

// parseConnLine parses one line of a table of format f (without its
// newline) into c. Strings it stores in c are copies; the line may be
// reused. The error names the column and quotes its value.
func parseConnLine(line []byte, f connFormat, c *Connection) error {
	*c = Connection{}
	p := fieldScanner{line: line}
	b, err := p.next(fieldPro)
	if err != nil {
		return err
	}
	if c.Protocol, err = parseConnProtocol(b); err != nil {
		return err
	}
	if c.Client, err = p.addrPort(fieldFromIP); err != nil {
		return err
	}
	if c.Virtual, err = p.addrPort(fieldToIP); err != nil {
		return err
	}
	if c.Client.Addr().Is4() != c.Virtual.Addr().Is4() {
		return fieldError(fieldToIP, line, "is not of FromIP's family")
	}
	if c.Destination, err = p.addrPort(fieldDestIP); err != nil {
		return err
	}
	if b, err = p.next(fieldState); err != nil {
		return err
	}
	c.State = connState(b)
	if f == connSync {
		if b, err = p.next(fieldOrigin); err != nil {
			return err
		}
		switch string(b) {
		case "SYNC":
			c.Synced = true
		case "LOCAL":
		default:
			return fieldError(fieldOrigin, b, "is neither LOCAL nor SYNC")
		}
	}
	if b, err = p.next(fieldExpires); err != nil {
		return err
	}
	if c.Expires, err = parseExpires(b); err != nil {
		return err
	}
	if f == connSync || p.i == len(line) {
		if p.i != len(line) {
			return fieldError(fieldExpires, line[p.i:], "is followed by more")
		}
		return nil
	}
	// The kernel appends " NAME DATA", where DATA is everything to the
	// end of the line (show_pe_data copies it as it is).
	rest := line[p.i:]
	if len(rest) < 3 || rest[0] != ' ' {
		return fieldError(fieldPEName, rest, "is not \" NAME DATA\"")
	}
	rest = rest[1:]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return fieldError(fieldPEName, rest, "is not \"NAME DATA\"")
	}
	c.PersistenceEngine = peName(rest[:sp])
	c.PEData = string(rest[sp+1:])
	return nil
}

// fieldScanner splits a line into space-separated columns.
type fieldScanner struct {
	line []byte
	i    int
}

// next returns the next column, which is field.
func (p *fieldScanner) next(field int) ([]byte, error) {
	for p.i < len(p.line) && p.line[p.i] == ' ' {
		p.i++
	}
	start := p.i
	for p.i < len(p.line) && p.line[p.i] != ' ' {
		p.i++
	}
	if start == p.i {
		return nil, fieldError(field, nil, "is missing")
	}
	return p.line[start:p.i], nil
}

// addrPort reads an address column (field) and the port column after it.
func (p *fieldScanner) addrPort(field int) (netip.AddrPort, error) {
	b, err := p.next(field)
	if err != nil {
		return netip.AddrPort{}, err
	}
	addr, ok := parseConnAddr(b)
	if !ok {
		return netip.AddrPort{}, fieldError(field, b, "is neither 8 hex digits nor a full IPv6 address")
	}
	if b, err = p.next(field + 1); err != nil {
		return netip.AddrPort{}, err
	}
	port, ok := parseHex(b, 4)
	if !ok {
		return netip.AddrPort{}, fieldError(field+1, b, "is not 4 hex digits")
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// parseConnAddr parses an IPv4 address printed as %08X, or an IPv6 one
// printed as %pI6: eight colon-separated groups of four hex digits.
func parseConnAddr(b []byte) (netip.Addr, bool) {
	switch len(b) {
	case 8:
		v, ok := parseHex(b, 8)
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), ok
	case 39:
		var a [16]byte
		for g := 0; g < 8; g++ {
			if g < 7 && b[g*5+4] != ':' {
				return netip.Addr{}, false
			}
			v, ok := parseHex(b[g*5:g*5+4], 4)
			if !ok {
				return netip.Addr{}, false
			}
			a[2*g], a[2*g+1] = byte(v>>8), byte(v)
		}
		return netip.AddrFrom16(a), true
	}
	return netip.Addr{}, false
}

// parseHex parses exactly n hex digits, of either case.
func parseHex(b []byte, n int) (uint32, bool) {
	if len(b) != n {
		return 0, false
	}
	var v uint32
	for _, ch := range b {
		switch {
		case '0' <= ch && ch <= '9':
			ch -= '0'
		case 'a' <= ch && ch <= 'f':
			ch -= 'a' - 10
		case 'A' <= ch && ch <= 'F':
			ch -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | uint32(ch)
	}
	return v, true
}

// connProtocols are ip_vs_proto_name's names; others print as IP_<n>.
var connProtocols = map[string]Protocol{
	"IP": 0, "ICMP": 1, "IPIP": 4, "TCP": ProtocolTCP, "UDP": ProtocolUDP,
	"GRE": 47, "ICMPv6": 58, "SCTP": ProtocolSCTP,
}

func parseConnProtocol(b []byte) (Protocol, error) {
	if p, ok := connProtocols[string(b)]; ok {
		return p, nil
	}
	if n, ok := bytes.CutPrefix(b, []byte("IP_")); ok {
		if v, ok := parseDecimal(n); ok && v <= 255 {
			return Protocol(v), nil
		}
	}
	return 0, fieldError(fieldPro, b, "is not a protocol name")
}

// connStates interns the kernel's state names (of TCP, UDP, SCTP and
// the stateless protocols), so that a line costs no allocation for them.
var connStates = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{
		"NONE", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT", "TIME_WAIT", "CLOSE",
		"CLOSE_WAIT", "LAST_ACK", "LISTEN", "SYNACK", "UDP", "ERR!", "INIT1", "INIT",
		"COOKIE_SENT", "COOKIE_REPLIED", "COOKIE_WAIT", "COOKIE_ECHOED", "SHUTDOWN_SENT",
		"SHUTDOWN_RECEIVED", "SHUTDOWN_ACK_SENT", "REJECTED", "CLOSED", "ASSURED",
	} {
		m[s] = s
	}
	return m
}()

func connState(b []byte) string {
	if s, ok := connStates[string(b)]; ok {
		return s
	}
	return string(b)
}

// peName interns "sip", the one engine the kernel has.
func peName(b []byte) string {
	if string(b) == "sip" {
		return "sip"
	}
	return string(b)
}

// maxExpires is the largest count of seconds a time.Duration holds.
const maxExpires = uint64(1<<63-1) / uint64(time.Second)

// parseExpires parses the %7lu seconds column. The kernel prints
// (expires - jiffies) / HZ as unsigned, so an entry whose timer is due
// but has not run yet wraps around to a huge number: that reads as 0.
func parseExpires(b []byte) (time.Duration, error) {
	v, ok := parseDecimal(b)
	if !ok {
		return 0, fieldError(fieldExpires, b, "is not a number of seconds")
	}
	if v > maxExpires {
		return 0, nil
	}
	return time.Duration(v) * time.Second, nil
}

// parseDecimal parses an unsigned decimal number of at most 64 bits,
// without the allocation strconv's error would cost.
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, ch := range b {
		d := uint64(ch - '0')
		if d > 9 || v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// fieldError names a column of the table and quotes its value.
func fieldError(field int, value []byte, reason string) error {
	if value == nil {
		return invalidf("column "+connFields[field], "%s", reason)
	}
	return invalidf("column "+connFields[field], "%q %s", value, reason)
}

// ConnectionFilter selects entries of the connection table; its zero
// value selects all.
type ConnectionFilter struct {
	// Service selects the entries of one virtual service by the fields
	// that identify it, each set one narrowing the selection: Protocol;
	// Address, the virtual address the client reached; and Port, unless
	// 0 (a port-zero persistent service's connections keep the port the
	// client used, so 0 selects every port).
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
