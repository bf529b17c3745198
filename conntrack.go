package ipvs

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
)

// ConntrackFilter selects the netfilter connection tracking (conntrack)
// entries of the flows that IPVS forwarded from one virtual service to
// one of its real servers by masquerading (ForwardMasquerade): the entries
// whose original direction went to the service's address and port, with
// its protocol, and whose reply comes from the real server. Those are
// the entries that IPVS writes when the conntrack sysctl
// (Sysctls.Conntrack) is on, and that kube-proxy deletes when it
// removes a UDP real server.
//
// Direct routing and tunnel destinations leave no trace of the real
// server in conntrack (their replies do not pass through the director),
// so no filter can tell their entries apart; a firewall-mark service's
// entries record the address the client reached, not the mark. Both are
// refused.
type ConntrackFilter struct {
	// Service names the virtual service by Protocol, Address and Port
	// (Family may be left zero). Its other fields are ignored.
	Service Service
	// Destination names the real server by Address and Port; a Port of
	// 0 means the service's port, as it does for RemoveDestination.
	Destination Destination
}

// String returns "PROTOCOL VIRTUAL -> REAL", as "udp 10.0.0.1:53 ->
// 10.0.0.2:53".
func (f ConntrackFilter) String() string {
	k, err := f.key()
	if err != nil {
		return fmt.Sprintf("%s -> %s", f.Service, f.Destination)
	}
	return k.String()
}

// conntrackKey is what a ConntrackFilter matches, in the form a
// conntrack entry is compared with: the protocol, the original
// destination and the reply source, IPv4 addresses in their 4-byte form.
type conntrackKey struct {
	protocol Protocol
	virtual  netip.AddrPort
	real     netip.AddrPort
}

func (k conntrackKey) String() string {
	return k.protocol.String() + " " + k.virtual.String() + " -> " + k.real.String()
}

// key validates f and returns what it matches: the service and the
// destination by their Keys, as every path of the package names them.
func (f ConntrackFilter) key() (conntrackKey, error) {
	sk := f.Service.Key()
	if sk.FWMark != 0 {
		return conntrackKey{}, invalidf("service", "fwmark %d: conntrack entries record the address the client reached, not the mark", sk.FWMark)
	}
	if err := sk.validate(); err != nil {
		return conntrackKey{}, err
	}
	switch sk.Protocol {
	case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
	default:
		return conntrackKey{}, invalidf("service protocol", "%s is not tcp, udp or sctp", sk.Protocol)
	}
	if sk.Port == 0 {
		return conntrackKey{}, invalidf("service port", "0: the entries of a port-zero service keep the port the client reached; name that port")
	}
	dk := f.Destination.key(sk)
	if err := dk.validate(); err != nil {
		return conntrackKey{}, err
	}
	if dk.family != sk.Family {
		return conntrackKey{}, invalidf("destination family", "%s differs from the service's %s: a mixed-family destination is a tunnel, whose flows conntrack does not see", dk.family, sk.Family)
	}
	return conntrackKey{
		protocol: sk.Protocol,
		virtual:  netip.AddrPortFrom(sk.Address, sk.Port),
		real:     netip.AddrPortFrom(dk.addr, dk.port),
	}, nil
}

// conntrackMatcher tells whether a conntrack entry belongs to one of a
// set of filters, in one map lookup whatever their number, so that a
// flush walks the table once for any number of removed destinations.
type conntrackMatcher struct {
	keys     map[conntrackKey]struct{}
	families [2]bool // ipv4, ipv6: which the table must be read for
	object   string  // names the filters in errors
}

// newConntrackMatcher validates the filters; the error names the first
// bad one.
func newConntrackMatcher(filters []ConntrackFilter) (*conntrackMatcher, error) {
	m := &conntrackMatcher{keys: make(map[conntrackKey]struct{}, len(filters))}
	for i, f := range filters {
		k, err := f.key()
		if err != nil {
			return nil, fmt.Errorf("filter %d (%s): %w", i, f, err)
		}
		m.keys[k] = struct{}{}
		m.families[familyIndex(k.virtual.Addr())] = true
	}
	switch len(filters) {
	case 0:
	case 1:
		m.object = mustKey(filters[0]).String()
	default:
		m.object = mustKey(filters[0]).String() + " and " + strconv.Itoa(len(filters)-1) + " more"
	}
	return m, nil
}

func mustKey(f ConntrackFilter) conntrackKey { k, _ := f.key(); return k }

func familyIndex(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// match reports whether an entry with these tuples is one of the
// filters': protocol, original destination and reply source.
func (m *conntrackMatcher) match(protocol uint8, origDst, replySrc netip.AddrPort) bool {
	k := conntrackKey{
		protocol: Protocol(protocol),
		virtual:  netip.AddrPortFrom(origDst.Addr().Unmap(), origDst.Port()),
		real:     netip.AddrPortFrom(replySrc.Addr().Unmap(), replySrc.Port()),
	}
	_, ok := m.keys[k]
	return ok
}

// ErrNoConntrack is the error of FlushConntrack in a network namespace
// whose kernel offers no conntrack netlink interface: the
// nf_conntrack_netlink module is not loaded (and could not be loaded on
// demand), or the kernel was built without it. The library never runs
// modprobe itself. An error matching it also matches os.ErrNotExist.
var ErrNoConntrack error = noConntrackError{}

type noConntrackError struct{}

func (noConntrackError) Error() string {
	return "the kernel has no conntrack netlink interface (is nf_conntrack_netlink loaded?)"
}

func (noConntrackError) Is(target error) bool { return target == os.ErrNotExist }

const opFlushConntrack = "flush conntrack"
