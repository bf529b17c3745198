// Package procfs reads IPVS's files in procfs, which its Generic Netlink
// family does not cover: the connection table (/proc/net/ip_vs_conn and
// /proc/net/ip_vs_conn_sync), parsed line by line into plain values,
// the namespace's totals (/proc/net/ip_vs_stats), and the sysctls
// (/proc/sys/net/ipv4/vs) as text and, by SysctlTable, typed. It knows
// formats and files, not namespaces: package ipvs opens the files in the
// namespace of a client. It is internal-only: use package ipvs.
package procfs

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"os"
	"time"
)

// Conn is one entry of the connection table; see ipvs.Connection, which
// it becomes.
type Conn struct {
	Protocol                     uint16
	Client, Virtual, Destination netip.AddrPort
	State                        string
	Expires                      time.Duration
	PEName, PEData               string
	Synced                       bool
}

// Format is the layout of one of the two connection tables.
type Format uint8

const (
	// Plain is /proc/net/ip_vs_conn: ... State Expires [PEName PEData].
	Plain Format = iota
	// Sync is /proc/net/ip_vs_conn_sync: ... State Origin Expires.
	Sync
)

// Headers of the two tables, as ip_vs_conn.c prints them.
const (
	Header     = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData"
	SyncHeader = "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Origin Expires"
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

// keyEnd returns the length of the line's prefix that identifies the
// entry in both tables: up to the end of DPrt. The two tables print it
// with the same format, so it matches byte for byte.
func keyEnd(line []byte) int {
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

// ParseLine parses one line of a table of format f (without its
// newline) into c. Strings it stores in c are copies; the line may be
// reused. The error names the column and quotes its value.
func ParseLine(line []byte, f Format, c *Conn) error {
	*c = Conn{}
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
	if f == Sync {
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
	if f == Sync || p.i == len(line) {
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
	c.PEName = peName(rest[:sp])
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

// Protocols are ip_vs_proto_name's names; others print as IP_<n>.
var Protocols = map[string]uint16{
	"IP": 0, "ICMP": 1, "IPIP": 4, "TCP": 6, "UDP": 17,
	"GRE": 47, "ICMPv6": 58, "SCTP": 132,
}

func parseConnProtocol(b []byte) (uint16, error) {
	if p, ok := Protocols[string(b)]; ok {
		return p, nil
	}
	if n, ok := bytes.CutPrefix(b, []byte("IP_")); ok {
		if v, ok := parseDecimal(n); ok && v <= 255 {
			return uint16(v), nil
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

// FieldError is a column of the connection table, or a value of
// ip_vs_stats, that does not parse. It matches os.ErrInvalid.
type FieldError struct {
	// Column names the column as the header does, such as "ToIP" or
	// "Incoming Bytes".
	Column string
	// Value is its value, cut to maxQuoted bytes; empty if it is missing.
	Value string
	// Cut is how many bytes of the value Value leaves out.
	Cut int
	// Reason says what is wrong with it.
	Reason string
}

// maxQuoted bounds how much of a value an error quotes: a line of the
// table may hold 16 KiB of a persistence engine's data.
const maxQuoted = 64

// Error returns "invalid column COLUMN: "VALUE" REASON", with the length
// of a value that is cut.
func (e *FieldError) Error() string {
	switch {
	case e.Value == "" && e.Cut == 0:
		return "invalid column " + e.Column + ": " + e.Reason
	case e.Cut > 0:
		return fmt.Sprintf("invalid column %s: %q... (%d bytes) %s", e.Column, e.Value, len(e.Value)+e.Cut, e.Reason)
	}
	return fmt.Sprintf("invalid column %s: %q %s", e.Column, e.Value, e.Reason)
}

// Is reports whether target is os.ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == os.ErrInvalid }

// fieldError names a column of the table and quotes its value, at most
// maxQuoted bytes of it.
func fieldError(field int, value []byte, reason string) error {
	return columnError(connFields[field], value, reason)
}

// columnError is fieldError of a column by its name.
func columnError(column string, value []byte, reason string) error {
	e := &FieldError{Column: column, Reason: reason}
	if len(value) > maxQuoted {
		e.Cut, value = len(value)-maxQuoted, value[:maxQuoted]
	}
	e.Value = string(value)
	return e
}
