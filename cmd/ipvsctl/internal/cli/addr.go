package cli

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/names"
)

// What parseService found.
const (
	parsedAddr = 1 << iota
	parsedPort
)

func familyOf(a netip.Addr) ipvs.Family {
	if a.Is4() {
		return ipvs.FamilyIPv4
	}
	return ipvs.FamilyIPv6
}

// parseService is ipvsadm's parse_service: "host[:port]" or
// "[v6addr]:port", a bare IPv6 address, or an IPv4 host name; the port may
// be a service name of the protocol.
func parseService(buf string, proto ipvs.Protocol) (netip.Addr, uint16, int) {
	if buf == "" || isDigits(buf) {
		return netip.Addr{}, 0, 0
	}
	host, port, hasPort := buf, "", false
	if buf[0] == '[' {
		inner, after, ok := strings.Cut(buf[1:], "]")
		if !ok || !strings.HasPrefix(after, ":") {
			return netip.Addr{}, 0, 0
		}
		host, port, hasPort = inner, after[1:], true
	}
	var a netip.Addr
	if v6, ok := inetPton6(host); ok {
		a = v6
	} else {
		if buf[0] == '[' {
			// ipvsadm has cut the word at ']' and finds no ':' left.
			hasPort = false
		} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host, port, hasPort = host[:i], host[i+1:], true
		}
		v4, ok := inetAton(host)
		if !ok {
			v4, ok = names.HostAddr(host)
		}
		if !ok {
			return netip.Addr{}, 0, 0
		}
		a = v4
	}
	if !hasPort {
		return a, 0, parsedAddr
	}
	if n, ok := stringToNumber(port, 0, 65535); ok {
		return a, uint16(n), parsedAddr | parsedPort
	}
	if n, ok := names.Port(port, names.Proto(proto)); ok && proto != 0 {
		return a, uint16(n), parsedAddr | parsedPort
	}
	return netip.Addr{}, 0, 0
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// inetPton6 is inet_pton(AF_INET6): no zone, and a v4-mapped address stays
// IPv6.
func inetPton6(s string) (netip.Addr, bool) {
	// One colon at most is host:port, and parsing it would only cost an
	// error.
	if strings.Count(s, ":") < 2 || strings.Contains(s, "%") {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, false
	}
	return a, true
}

// inetAton is inet_aton: one to four parts, each decimal, octal (0...) or
// hex (0x...), the last part filling the remaining bytes.
func inetAton(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return a, true // the common dotted quad, without allocating
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals []uint64
	for _, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		v, err := strconv.ParseUint(p, 0, 32)
		if err != nil || strings.ContainsAny(p, "_+-") || (len(p) > 1 && p[0] == '0' && (p[1] == 'o' || p[1] == 'O' || p[1] == 'b' || p[1] == 'B')) {
			return netip.Addr{}, false
		}
		vals = append(vals, v)
	}
	var n uint64
	for i, v := range vals[:len(vals)-1] {
		if v > 255 {
			return netip.Addr{}, false
		}
		n |= v << (24 - 8*i)
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-len(vals))) && len(vals) > 1 {
		return netip.Addr{}, false
	}
	n |= last
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(n))
	return netip.AddrFrom4(b), true
}

// stringToNumber is ipvsadm's string_to_number: strtol in base 10 over the
// whole word, within [min, max].
func stringToNumber(s string, min, max int64) (int64, bool) {
	if len(s) > 0 && len(s) <= 18 && isDigits(s) {
		// The common case, as strtol reads it, without its general ones.
		var n int64
		for i := 0; i < len(s); i++ {
			n = n*10 + int64(s[i]-'0')
		}
		if n < min || n > max {
			return 0, false
		}
		return n, true
	}
	t := strings.TrimLeft(s, " \t\n\v\f\r")
	if t == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < min || n > max {
		return 0, false
	}
	return n, true
}

// parseTimeout is ipvsadm's parse_timeout.
func parseTimeout(s string, min, max int64) (int64, error) {
	n, ok := stringToNumber(s, min, max)
	if !ok {
		return 0, fail("invalid timeout value `%s' specified", s)
	}
	return n, nil
}

// parseFWMark is ipvsadm's parse_fwmark: 1 to 2^32-1. A restore also
// reads the negative numbers ipvsadm 1.31 saves for marks of 2^31 and up.
func parseFWMark(s string, restore bool) (uint32, error) {
	min := int64(1)
	if restore {
		min = -1 << 31
	}
	n, ok := stringToNumber(s, min, 1<<32-1)
	if ok && n == 0 {
		ok = false
	}
	if !ok {
		return 0, fail("invalid fwmark value `%s' specified", s)
	}
	return uint32(n), nil
}

// parseNetmask reads -M: a dotted mask (or a host name) for an IPv4 or
// not-yet-known service, a prefix length for an IPv6 one.
func (st *state) parseNetmask(v string) error {
	if st.af == ipvs.FamilyIPv6 {
		n := atoi(v)
		if n < 1 || n > 128 {
			return fail("illegal ipv6 netmask specified")
		}
		st.netmask = uint32(n)
		return nil
	}
	a, ok := inetAton(v)
	if !ok {
		a, ok = names.HostAddr(v)
	}
	if !ok {
		return fail("illegal virtual server persistent mask specified")
	}
	b := a.As4()
	st.netmask = binary.BigEndian.Uint32(b[:])
	return nil
}

// atoi is C's atoi: leading blanks, a sign, then digits as far as they go.
func atoi(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9' && n < 1<<40; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

// parseGroup reads --mcast-group: a multicast address of either family.
func (st *state) parseGroup(v string) error {
	if strings.Contains(v, ":") {
		a, ok := inetPton6(v)
		if !ok || !a.IsMulticast() {
			return fail("invalid IPv6 mcast-group `%s'", v)
		}
		st.cmd.Daemon.Group = a
		return nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() || !a.IsMulticast() {
		return fail("invalid IPv4 mcast-group `%s'", v)
	}
	st.cmd.Daemon.Group = a
	return nil
}

// netmaskOf converts ipvsadm's raw netmask of a service of family af.
func netmaskOf(af ipvs.Family, raw uint32) ipvs.Netmask {
	if af == ipvs.FamilyIPv6 {
		if raw >= 128 {
			return ipvs.Netmask{}
		}
		return ipvs.PrefixMask(int(raw))
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], raw)
	return ipvs.IPv4Mask(b)
}
