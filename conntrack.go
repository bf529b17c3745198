package ipvs

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"syscall"

	"github.com/ipvs-go/ipvs/internal/ctnetlink"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
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
	return conntrackString(k)
}

// conntrackString is how a filter's key reads in errors.
func conntrackString(k ctnetlink.Key) string {
	return Protocol(k.Proto).String() + " " + k.Virtual.String() + " -> " + k.Real.String()
}

// key validates f and returns what it matches, in the form a conntrack
// entry is compared with: the service and the
// destination by their Keys, as every path of the package names them.
func (f ConntrackFilter) key() (ctnetlink.Key, error) {
	sk := f.Service.Key()
	if sk.FWMark != 0 {
		return ctnetlink.Key{}, invalidf("service", "fwmark %d: conntrack entries record the address the client reached, not the mark", sk.FWMark)
	}
	if err := sk.validate(); err != nil {
		return ctnetlink.Key{}, err
	}
	switch sk.Protocol {
	case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
	default:
		return ctnetlink.Key{}, invalidf("service protocol", "%s is not tcp, udp or sctp", sk.Protocol)
	}
	if sk.Port == 0 {
		return ctnetlink.Key{}, invalidf("service port", "0: the entries of a port-zero service keep the port the client reached; name that port")
	}
	dk := f.Destination.key(sk)
	if err := dk.validate(); err != nil {
		return ctnetlink.Key{}, err
	}
	if dk.family != sk.Family {
		return ctnetlink.Key{}, invalidf("destination family", "%s differs from the service's %s: a mixed-family destination is a tunnel, whose flows conntrack does not see", dk.family, sk.Family)
	}
	return ctnetlink.Key{
		Proto:   uint8(sk.Protocol),
		Virtual: netip.AddrPortFrom(sk.Address, sk.Port),
		Real:    netip.AddrPortFrom(dk.addr, dk.port),
	}, nil
}

// newConntrackMatcher validates the filters, and returns their matcher
// and how errors name them; the error names the first bad one.
func newConntrackMatcher(filters []ConntrackFilter) (m *ctnetlink.Matcher, object string, err error) {
	keys := make([]ctnetlink.Key, len(filters))
	for i, f := range filters {
		if keys[i], err = f.key(); err != nil {
			return nil, "", fmt.Errorf("filter %d (%s): %w", i, f, err)
		}
	}
	switch len(keys) {
	case 0:
	case 1:
		object = conntrackString(keys[0])
	default:
		object = conntrackString(keys[0]) + " and " + strconv.Itoa(len(keys)-1) + " more"
	}
	return ctnetlink.NewMatcher(keys), object, nil
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

// FlushConntrack deletes the conntrack entries that the filters select,
// in the client's network namespace, and returns how many it deleted. It
// reads the table once, whatever the number of filters (the IPv4 half,
// the IPv6 half or both, as the filters need), asking the kernel to send
// only the entries with the fields all the filters share (Linux 5.8 and
// later can), and deletes each selected entry by its original tuple and
// its ID, many to a datagram: an entry that a new flow made in the place
// of a selected one meanwhile has another ID, and stays.
//
// Call it after removing masquerading UDP or SCTP destinations (see
// ConntrackFilter for the others), whose entries otherwise stay until
// IPVS expires its own. It does not move a flow, and does not touch
// IPVS's own connection entries, which decide where a flow goes and
// which no interface deletes: set Sysctls.ExpireNodestConn, so that IPVS
// expires the entries of a removed destination at once and schedules
// their flows anew (the package README has the facts, measured on each
// kernel).
//
// Errors are *Error values. One matches ErrNoConntrack (and
// os.ErrNotExist) when the namespace's kernel has no conntrack netlink
// interface, os.ErrPermission without CAP_NET_ADMIN over the namespace,
// os.ErrInvalid for a bad filter, before anything is read. Entries
// deleted before an error stay deleted; the count says how many.
func (c *Client) FlushConntrack(ctx context.Context, filters ...ConntrackFilter) (int, error) {
	m, object, err := newConntrackMatcher(filters)
	if err != nil {
		return 0, &Error{Op: opFlushConntrack, Err: err}
	}
	if len(filters) == 0 {
		return 0, nil
	}
	fail := func(err error) error {
		e := &Error{Op: opFlushConntrack, Object: object, Err: err}
		if ke := (*nlmsg.KernelError)(nil); errors.As(err, &ke) {
			e.Message = ke.Message
		}
		return e
	}
	if err := ctx.Err(); err != nil {
		return 0, fail(err)
	}
	if c.dialConntrack == nil {
		return 0, fail(fmt.Errorf("the client's kernel is not this machine's (an in-memory one): %w", errors.ErrUnsupported))
	}
	done, err := c.use()
	if err != nil {
		return 0, fail(err)
	}
	defer done()
	var conns [2]*conn
	for i := range conns {
		s, err := c.dialConntrack()
		if err != nil {
			if i > 0 {
				_ = conns[0].sock.Close()
			}
			return 0, fail(conntrackError("dial netfilter netlink", err))
		}
		defer s.Close()
		conns[i] = newConn(s, c.replyTimeout, c.bufSize[poolDefault], &c.closed)
	}
	f := &ctnetlink.Flush{Dump: ctConn{conns[0]}, Delete: ctConn{conns[1]}, Matcher: m,
		KernelFilter: conntrackKernelFilter, Wrap: conntrackError}
	f.MaxBytes, f.MaxN = batchLimits(conns[1].sock)
	if err := f.Run(ctx); err != nil {
		return f.Deleted, fail(err)
	}
	return f.Deleted, nil
}

// conntrackKernelFilter is whether dumps ask the kernel to filter; the
// tests turn it off to prove the flush exact without.
var conntrackKernelFilter = true

// ctConn is a conn as the flush exchanges through it.
type ctConn struct{ cn *conn }

func (c ctConn) Next() uint32 { return c.cn.next() }

func (c ctConn) Exchange(ctx context.Context, b []byte, first, last uint32, typ uint16, ack bool, each func(nlmsg.Header, []byte) error) error {
	return c.cn.exchange(ctx, b, first, last, typ, ack, each)
}

// conntrackError says what an errno of netfilter netlink means here.
func conntrackError(what string, err error) error {
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return fmt.Errorf("%s: conntrack needs CAP_NET_ADMIN over the network namespace: %w", what, err)
	case errors.Is(err, syscall.EPROTONOSUPPORT), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EINVAL):
		// No nfnetlink (the socket is refused), or no ctnetlink
		// subsystem in it (nfnetlink refuses the message type).
		return fmt.Errorf("%s: %w: %w", what, ErrNoConntrack, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
