// Package text prints tables as ipvsadm 1.31 does, byte for byte: the
// listings of -L with every option, and the rules of -S.
package text

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/names"
)

// ntop is inet_ntop as glibc spells addresses: an IPv6 address whose
// first 96 bits are zero (but not :: or ::1) ends in dotted IPv4, as
// "::1.2.3.4", where Go would print "::102:304".
func ntop(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		b := a.As16()
		zero := true
		for _, x := range b[:12] {
			zero = zero && x == 0
		}
		if zero && (b[12] != 0 || b[13] != 0) {
			return "::" + netip.AddrFrom4([4]byte(b[12:])).String()
		}
	}
	return a.String()
}

// addrPort is ipvsadm's addrport_to_anyname: numeric with -n, else the
// host's and the port's names where they have one. An IPv6 address is
// bracketed even when it is a name.
func addrPort(a netip.Addr, port uint16, proto ipvs.Protocol, f cli.Format) string {
	var sb strings.Builder
	v6 := !a.Is4()
	if v6 {
		sb.WriteByte('[')
	}
	host := ""
	if f&cli.FmtNumeric == 0 {
		host = names.HostName(a)
	}
	if host == "" {
		host = ntop(a)
	}
	sb.WriteString(host)
	if v6 {
		sb.WriteByte(']')
	}
	sb.WriteByte(':')
	pname := ""
	if f&cli.FmtNumeric == 0 {
		if p := names.Proto(proto); p != "" {
			pname, _ = names.PortName(int(port), p)
		}
	}
	if pname == "" {
		pname = strconv.Itoa(int(port))
	}
	sb.WriteString(pname)
	return sb.String()
}
