package ipvs

import (
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// Family is an address family: of a service, a destination or a
// multicast group.
type Family uint16

// Possible Family values.
const (
	FamilyIPv4 Family = ipvsh.AFInet
	FamilyIPv6 Family = ipvsh.AFInet6
)

// String returns "ipv4", "ipv6" or the number of an unknown family.
func (f Family) String() string {
	switch f {
	case FamilyIPv4:
		return "ipv4"
	case FamilyIPv6:
		return "ipv6"
	}
	return "family(" + strconv.Itoa(int(f)) + ")"
}

// Protocol is the transport protocol of a virtual service.
type Protocol uint16

// Possible Protocol values: the ones IPVS can balance.
const (
	ProtocolTCP  Protocol = 6
	ProtocolUDP  Protocol = 17
	ProtocolSCTP Protocol = 132
)

// String returns "tcp", "udp", "sctp" or the number of another protocol.
func (p Protocol) String() string {
	switch p {
	case ProtocolTCP:
		return "tcp"
	case ProtocolUDP:
		return "udp"
	case ProtocolSCTP:
		return "sctp"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// ServiceFlags are the flags of a virtual service (IP_VS_SVC_F_*).
type ServiceFlags uint32

// Possible ServiceFlags values. The three scheduler flags mean what the
// service's scheduler makes of them; sh and mh name two of them.
const (
	FlagPersistent ServiceFlags = ipvsh.SvcFPersistent
	// FlagHashed is set by the kernel on every live service; it is ignored
	// when sent.
	FlagHashed    ServiceFlags = ipvsh.SvcFHashed
	FlagOnePacket ServiceFlags = ipvsh.SvcFOnePacket
	FlagSched1    ServiceFlags = ipvsh.SvcFSched1
	FlagSched2    ServiceFlags = ipvsh.SvcFSched2
	FlagSched3    ServiceFlags = ipvsh.SvcFSched3

	// FlagSHFallback makes the sh and mh schedulers fall back to another
	// destination when the chosen one is unavailable.
	FlagSHFallback = FlagSched1
	// FlagSHPort makes the sh and mh schedulers hash the source port too.
	FlagSHPort = FlagSched2
)

var serviceFlagNames = []struct {
	f    ServiceFlags
	name string
}{
	{FlagPersistent, "persistent"},
	{FlagHashed, "hashed"},
	{FlagOnePacket, "one-packet"},
	{FlagSched1, "sched1"},
	{FlagSched2, "sched2"},
	{FlagSched3, "sched3"},
}

// String joins the names of the set flags with "|", with unknown bits in
// hex, or returns "0".
func (f ServiceFlags) String() string {
	if f == 0 {
		return "0"
	}
	var parts []string
	for _, n := range serviceFlagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
			f &^= n.f
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint32(f)))
	}
	return strings.Join(parts, "|")
}

// Netmask is the granularity of a persistent service: clients whose
// addresses agree in the mask's leading bits share a destination. It is a
// prefix length for both families; the kernel wants a mask for IPv4 and a
// prefix length for IPv6, and the encoder writes each as it must.
//
// The zero Netmask means the full length of the service's family (/32 or
// /128), which is also what ipvsadm uses unless told otherwise; a
// full-length mask is always read back as the zero Netmask.
type Netmask struct {
	// bits is the prefix length plus one, so that the zero value is "full".
	bits uint8
}

// PrefixMask returns the Netmask of a prefix length: 0 to 32 for IPv4
// services, 1 to 128 for IPv6 ones. Other lengths are kept (a negative one
// as -1, a large one as 253) so that the client's refusal names them.
func PrefixMask(bits int) Netmask {
	if bits < 0 {
		return Netmask{bits: netmaskNegative}
	}
	return Netmask{bits: uint8(min(bits, netmaskNegative-2) + 1)}
}

// netmaskNegative marks a Netmask made from a negative prefix length.
const netmaskNegative = math.MaxUint8

// Bits returns the prefix length for a service of family f.
func (m Netmask) Bits(f Family) int {
	switch m.bits {
	case 0:
		if f == FamilyIPv6 {
			return 128
		}
		return 32
	case netmaskNegative:
		return -1
	}
	return int(m.bits) - 1
}

// String returns "/N", or "full" for the zero Netmask.
func (m Netmask) String() string {
	if m.bits == 0 {
		return "full"
	}
	return "/" + strconv.Itoa(m.Bits(0))
}

// wire returns the NETMASK attribute value for family f: the mask itself
// (to be sent big-endian) for IPv4, the prefix length for IPv6.
func (m Netmask) wire(f Family) uint32 {
	n := m.Bits(f)
	if f == FamilyIPv6 {
		return uint32(n)
	}
	if n == 0 {
		return 0
	}
	return math.MaxUint32 << (32 - n)
}

// netmaskFromWire is the inverse of wire. A full-length mask reads as the
// zero Netmask, for either family, so that equal masks compare equal. A
// non-contiguous IPv4 mask, which only other tools can set, reads as its
// leading one bits.
func netmaskFromWire(f Family, v uint32) Netmask {
	if f == FamilyIPv6 {
		if v >= 128 {
			return Netmask{}
		}
		return Netmask{bits: uint8(v) + 1}
	}
	if v == math.MaxUint32 {
		return Netmask{}
	}
	return Netmask{bits: uint8(bits.LeadingZeros32(^v)) + 1}
}

// Service is an IPVS virtual service.
//
// A service is identified either by Protocol, Address and Port, or by
// FWMark (a firewall mark set by netfilter rules) together with Family.
// Methods that take a Service to name one use only those fields.
type Service struct {
	// Family is the address family. It may be left zero when Address is
	// set: it is then the family of Address. A fwmark service needs it.
	Family   Family
	Protocol Protocol
	Address  netip.Addr
	Port     uint16
	// FWMark identifies a firewall-mark service; zero for the others.
	FWMark uint32

	// Scheduler is the name of the scheduling module, such as "rr",
	// "wlc" or "mh" (the kernel loads ip_vs_<name>), or "none".
	Scheduler string
	// PersistenceEngine is the name of a persistence engine, such as
	// "sip", or empty for none.
	PersistenceEngine string
	// Flags are the service's flags. On create and update, only the bits
	// in FlagsMask are applied, the others keep their value (none, for a
	// new service); a zero FlagsMask applies all bits, so that Flags
	// replaces the service's flags.
	Flags     ServiceFlags
	FlagsMask ServiceFlags
	// Timeout is the persistence timeout, in whole seconds.
	Timeout time.Duration
	// Netmask is the persistence granularity.
	Netmask Netmask

	// Stats are the service's counters and rates. They are read-only.
	Stats Stats
}

// family returns the service's address family, from Address if unset.
func (s *Service) family() Family {
	if s.Family != 0 || !s.Address.IsValid() {
		return s.Family
	}
	return familyOf(s.Address)
}

// String names the service as ipvsadm lists it: "tcp 10.0.0.1:80",
// "udp [2001:db8::1]:53" or "fwmark 7 ipv4".
func (s Service) String() string {
	if s.FWMark != 0 {
		return fmt.Sprintf("fwmark %d %s", s.FWMark, s.family())
	}
	a := s.Address
	if s.family() == FamilyIPv4 {
		a = a.Unmap()
	}
	return s.Protocol.String() + " " + netip.AddrPortFrom(a, s.Port).String()
}

// validateKey checks the fields that identify a service.
func (s *Service) validateKey() error {
	f := s.family()
	if f != FamilyIPv4 && f != FamilyIPv6 {
		if f == 0 {
			return invalidf("service", "needs a family with its fwmark, or an address")
		}
		return invalidf("service family", "%s is not ipv4 or ipv6", f)
	}
	if s.FWMark != 0 {
		if s.Address.IsValid() || s.Port != 0 || s.Protocol != 0 {
			return invalidf("service", "has fwmark %d and also protocol, address or port: choose one identity", s.FWMark)
		}
		return nil
	}
	if !s.Address.IsValid() {
		return invalidf("service", "has neither fwmark nor address")
	}
	switch s.Protocol {
	case ProtocolTCP, ProtocolUDP, ProtocolSCTP:
	case 0:
		return invalidf("service protocol", "is not set (tcp, udp or sctp)")
	default:
		return invalidf("service protocol", "%s is not tcp, udp or sctp", s.Protocol)
	}
	if a := s.Address; f == FamilyIPv4 && !a.Unmap().Is4() || f == FamilyIPv6 && a.Is4() {
		return invalidf("service address", "%s does not match family %s", a, f)
	}
	return nil
}

// validate checks a service to be created or updated.
func (s *Service) validate() error {
	if err := s.validateKey(); err != nil {
		return err
	}
	if err := checkName("service scheduler", s.Scheduler, ipvsh.SchedNameMaxLen); err != nil {
		return err
	}
	if s.Scheduler == "" {
		return invalidf("service scheduler", "is empty (for example rr, wlc or mh; none for no scheduler)")
	}
	if err := checkName("service persistence engine", s.PersistenceEngine, ipvsh.PENameMaxLen); err != nil {
		return err
	}
	if err := checkSeconds("service timeout", s.Timeout); err != nil {
		return err
	}
	f := s.family()
	switch n := s.Netmask.Bits(f); {
	case f == FamilyIPv6 && (n < 1 || n > 128):
		return invalidf("service netmask", "prefix length %d is outside 1..128 for ipv6", n)
	case f == FamilyIPv4 && (n < 0 || n > 32):
		return invalidf("service netmask", "prefix length %d is outside 0..32 for ipv4", n)
	}
	return nil
}

// checkName rejects a name the kernel would truncate or refuse: it must
// fit its buffer of max bytes with the terminating NUL, and hold no NUL.
func checkName(field, name string, max int) error {
	if len(name) > max-1 {
		return invalidf(field, "%q is %d bytes, longer than %d", name, len(name), max-1)
	}
	if strings.IndexByte(name, 0) >= 0 {
		return invalidf(field, "%q holds a NUL byte", name)
	}
	return nil
}

// checkSeconds rejects a duration that is not a whole, non-negative
// number of seconds that fits the kernel's u32.
func checkSeconds(field string, d time.Duration) error {
	switch {
	case d < 0:
		return invalidf(field, "%s is negative", d)
	case d%time.Second != 0:
		return invalidf(field, "%s is not a whole number of seconds", d)
	case d/time.Second > math.MaxUint32:
		return invalidf(field, "%s is more than %d seconds", d, uint32(math.MaxUint32))
	}
	return nil
}

// encodeKey writes the attributes that identify the service.
func (s *Service) encodeKey(w *attrWriter) {
	f := s.family()
	w.u16(ipvsh.SvcAttrAF, uint16(f))
	if s.FWMark != 0 {
		w.u32(ipvsh.SvcAttrFwmark, s.FWMark)
		return
	}
	w.u16(ipvsh.SvcAttrProtocol, uint16(s.Protocol))
	a := s.Address
	if f == FamilyIPv4 {
		a = a.Unmap()
	}
	w.addr(ipvsh.SvcAttrAddr, a)
	w.be16(ipvsh.SvcAttrPort, s.Port)
}

// encodeKeyNest writes the SERVICE nest with only the identity.
func (s *Service) encodeKeyNest(w *attrWriter) {
	n := w.nest(ipvsh.CmdAttrService)
	s.encodeKey(w)
	w.end(n)
}

// encodeNest writes the SERVICE nest of NEW_SERVICE and SET_SERVICE, in
// the order ipvsadm uses.
func (s *Service) encodeNest(w *attrWriter) {
	n := w.nest(ipvsh.CmdAttrService)
	s.encodeKey(w)
	w.str(ipvsh.SvcAttrSchedName, s.Scheduler)
	if s.PersistenceEngine != "" {
		w.str(ipvsh.SvcAttrPEName, s.PersistenceEngine)
	}
	mask := uint32(s.FlagsMask)
	if mask == 0 {
		mask = math.MaxUint32
	}
	// struct ip_vs_flags { __u32 flags; __u32 mask; }, host order.
	w.header(ipvsh.SvcAttrFlags, 8)
	w.b = binary.NativeEndian.AppendUint32(w.b, uint32(s.Flags))
	w.b = binary.NativeEndian.AppendUint32(w.b, mask)
	w.u32(ipvsh.SvcAttrTimeout, uint32(s.Timeout/time.Second))
	if f := s.family(); f == FamilyIPv6 {
		w.u32(ipvsh.SvcAttrNetmask, s.Netmask.wire(f))
	} else {
		w.be32(ipvsh.SvcAttrNetmask, s.Netmask.wire(f))
	}
	w.end(n)
}

// decode reads the payload of a SERVICE nest. Missing attributes are left
// zero (a fwmark service has no protocol, address or port); unknown ones
// are skipped, for kernels newer than this package.
func (s *Service) decode(b []byte) error {
	*s = Service{}
	var (
		addr, netmask []byte
		stats32       []byte // decoded only if no STATS64 follows
		have64        bool
	)
	a := attrs{b: b}
	for a.next() {
		switch a.typ {
		case ipvsh.SvcAttrAF:
			s.Family = Family(a.u16("service AF"))
		case ipvsh.SvcAttrProtocol:
			s.Protocol = Protocol(a.u16("service PROTOCOL"))
		case ipvsh.SvcAttrAddr:
			addr = a.data
		case ipvsh.SvcAttrPort:
			s.Port = a.be16("service PORT")
		case ipvsh.SvcAttrFwmark:
			s.FWMark = a.u32("service FWMARK")
		case ipvsh.SvcAttrSchedName:
			s.Scheduler = a.name()
		case ipvsh.SvcAttrPEName:
			s.PersistenceEngine = a.name()
		case ipvsh.SvcAttrFlags:
			// The mask in replies is always ~0; only the flags matter.
			if len(a.data) != 8 {
				a.fail("service FLAGS", "8")
				break
			}
			s.Flags = ServiceFlags(binary.NativeEndian.Uint32(a.data))
		case ipvsh.SvcAttrTimeout:
			s.Timeout = time.Duration(a.u32("service TIMEOUT")) * time.Second
		case ipvsh.SvcAttrNetmask:
			// Its byte order depends on the family, which may come later.
			if len(a.data) != 4 {
				a.fail("service NETMASK", "4")
				break
			}
			netmask = a.data
		case ipvsh.SvcAttrStats:
			stats32 = a.data
		case ipvsh.SvcAttrStats64:
			if err := s.Stats.decode(a.data, true); err != nil {
				a.setErr(err)
			}
			have64 = true
		}
	}
	if a.err != nil {
		return a.err
	}
	if stats32 != nil && !have64 {
		if err := s.Stats.decode(stats32, false); err != nil {
			return err
		}
	}
	if addr != nil {
		ip, err := decodeAddr(s.Family, addr)
		if err != nil {
			return fmt.Errorf("service ADDR: %w", err)
		}
		s.Address = ip
	}
	if netmask != nil {
		v := binary.NativeEndian.Uint32(netmask)
		if s.Family == FamilyIPv4 {
			v = binary.BigEndian.Uint32(netmask)
		}
		s.Netmask = netmaskFromWire(s.Family, v)
	}
	return nil
}

// decodeServiceMessage decodes a NEW_SERVICE reply message.
func decodeServiceMessage(msg []byte, s *Service) error {
	p, err := genlPayload(msg)
	if err != nil {
		return err
	}
	nest, ok, err := nested(p, ipvsh.CmdAttrService)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("service reply has no SERVICE attribute")
	}
	return s.decode(nest)
}

// Services returns every service of the namespace, with its stats. An
// empty table is an empty slice.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	return collect(c.AllServices(ctx))
}

// AllServices returns an iterator over the services of the namespace that
// decodes each as it arrives, so memory stays bounded by one receive
// buffer whatever the table's size. An error ends the iteration.
//
// The kernel does not snapshot its table for a dump: services created or
// removed meanwhile may be missed or seen twice.
func (c *Client) AllServices(ctx context.Context) iter.Seq2[Service, error] {
	return dump(c, ctx, request{op: opServices, cmd: ipvsh.CmdGetService, flags: flagsDump}, decodeServiceMessage)
}

// Service returns the service svc identifies, with its settings and
// stats. If it does not exist, the error matches os.ErrNotExist.
func (c *Client) Service(ctx context.Context, svc Service) (Service, error) {
	return get(c, ctx, &request{op: opService, cmd: ipvsh.CmdGetService, flags: flagsGet, body: bodySvcKey, svc: svc}, decodeServiceMessage)
}

// CreateService creates a service. If it exists, the error matches
// os.ErrExist; if its scheduler or persistence engine does not, it
// matches os.ErrNotExist.
func (c *Client) CreateService(ctx context.Context, svc Service) error {
	return c.writeService(ctx, opCreateService, ipvsh.CmdNewService, svc)
}

// UpdateService changes the scheduler, persistence engine, flags (those
// in FlagsMask, or all), timeout and netmask of the service svc
// identifies. If it does not exist, the error matches os.ErrNotExist.
//
// To change one flag and keep the others:
//
//	svc.Flags, svc.FlagsMask = ipvs.FlagOnePacket, ipvs.FlagOnePacket
//
// The kernel needs the other settings in every update, so they must hold
// the service's values: start from what Service returned.
func (c *Client) UpdateService(ctx context.Context, svc Service) error {
	return c.writeService(ctx, opUpdateService, ipvsh.CmdSetService, svc)
}

func (c *Client) writeService(ctx context.Context, op string, cmd uint8, svc Service) error {
	return c.exec(ctx, &request{op: op, cmd: cmd, flags: flagsWrite, body: bodySvc, svc: svc}, nil)
}

// RemoveService removes the service svc identifies, with its
// destinations. If it does not exist, the error matches os.ErrNotExist.
func (c *Client) RemoveService(ctx context.Context, svc Service) error {
	return c.exec(ctx, &request{op: opRemoveService, cmd: ipvsh.CmdDelService, flags: flagsWrite, body: bodySvcKey, svc: svc}, nil)
}
