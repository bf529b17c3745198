package keepalived

import (
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
)

// maxGroupAddresses bounds the addresses of one virtual_server_group:
// keepalived, as ipvsd, makes one IPVS service of each.
const maxGroupAddresses = 1 << 16

// group decodes a virtual_server_group block. Its lines are values, not
// keywords: addresses, ranges and firewall marks.
func (d *decoder) group(n *node) {
	if len(n.words) != 2 {
		d.errorfNode(n, "takes one name")
		return
	}
	g := &Group{Pos: n.pos, Name: n.words[1]}
	if !n.hasBlock {
		d.errorfNode(n, "has no block: a \"{\" must follow it")
		return
	}
	count := 0
	for _, c := range n.block {
		e, ok := d.groupEntry(c)
		if !ok {
			continue
		}
		if e.FWMark == 0 && e.First.IsValid() {
			count += rangeSize(e.First, e.Last)
			if count > maxGroupAddresses {
				d.errorfNode(c, "the group holds more than %d addresses", maxGroupAddresses)
				return
			}
		}
		g.Entries = append(g.Entries, e)
	}
	if len(g.Entries) == 0 {
		d.rep.warnf(n.pos, "virtual_server_group", "%s has no entries: keepalived removes it", g.Name)
		return
	}
	if prev, twice := d.cfg.Groups[g.Name]; twice {
		d.errorfNode(n, "%s is defined at %s too", g.Name, prev.Pos)
		return
	}
	d.cfg.Groups[g.Name] = g
}

// groupEntry reads one line of a group.
func (d *decoder) groupEntry(n *node) (GroupEntry, bool) {
	e := GroupEntry{Pos: n.pos}
	if !d.leaf(n) {
		return e, false
	}
	args := n.words
	if args[0] == "fwmark" {
		if len(args) < 2 || len(args) > 3 {
			d.errorfNode(n, "takes a mark and an optional family (inet or inet6)")
			return e, false
		}
		v, err := parseUint(args[1], 0, math.MaxUint32)
		if !d.check(n, err) {
			return e, false
		}
		e.FWMark = uint32(v)
		if len(args) == 3 {
			if args[2] != "inet" && args[2] != "inet6" {
				d.errorfNode(n, "%q is not inet or inet6", args[2])
				return e, false
			}
			e.Family = args[2]
		}
		if e.FWMark == 0 {
			d.errorfNode(n, "a firewall mark of 0 marks nothing")
			return e, false
		}
		return e, true
	}
	if len(args) > 2 {
		d.errorfNode(n, "takes an address or range and an optional port, and %q follows them", args[2])
		return e, false
	}
	first, last, err := parseRange(args[0])
	if !d.check(n, err) {
		return e, false
	}
	e.First, e.Last = first, last
	if len(args) == 2 {
		p, err := parsePort(args[1])
		if !d.check(n, err) {
			return e, false
		}
		e.Port = p
	}
	return e, true
}

// parseRange reads an address, a prefix (192.0.2.8/29), or a range: the
// whole last address (192.0.2.250-192.0.3.10), or its last part alone
// (192.0.2.1-10, or 2001:db8::1-ff for IPv6).
func parseRange(s string) (netip.Addr, netip.Addr, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Bits() == 0 {
			return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q is not an address prefix", s)
		}
		if p.Masked() != p {
			return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q has bits set past its prefix length", s)
		}
		return p.Addr(), lastOf(p), nil
	}
	from, to, isRange := strings.Cut(s, "-")
	first, err := parseAddr(from)
	if err != nil {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q is not an address or range", s)
	}
	if !isRange {
		return first, first, nil
	}
	var last netip.Addr
	if strings.ContainsAny(to, ".:") {
		last, err = parseAddr(to)
		if err != nil || last.Is4() != first.Is4() {
			return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q is not a range of one address family", s)
		}
	} else {
		b := first.AsSlice()
		if first.Is4() {
			v, err := strconv.ParseUint(to, 10, 8)
			if err != nil {
				return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q: %q is not the last byte of an address", s, to)
			}
			b[3] = byte(v)
		} else {
			v, err := strconv.ParseUint(to, 16, 16)
			if err != nil {
				return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q: %q is not the last part of an address", s, to)
			}
			b[14], b[15] = byte(v>>8), byte(v)
		}
		last, _ = netip.AddrFromSlice(b)
	}
	if last.Less(first) {
		return netip.Addr{}, netip.Addr{}, fmt.Errorf("%q ends before it starts", s)
	}
	return first, last, nil
}

// lastOf returns the last address of a prefix.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangeSize counts the addresses from first to last, both included,
// saturating past maxGroupAddresses.
func rangeSize(first, last netip.Addr) int {
	f := new(big.Int).SetBytes(first.AsSlice())
	l := new(big.Int).SetBytes(last.AsSlice())
	n := l.Sub(l, f)
	if !n.IsInt64() || n.Int64() >= maxGroupAddresses {
		return maxGroupAddresses + 1
	}
	return int(n.Int64()) + 1
}
