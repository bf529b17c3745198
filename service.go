package ipvs

import (
	"context"
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// ServiceFlags are the flags of a virtual service (IP_VS_SVC_F_*).
type ServiceFlags uint32

// Possible ServiceFlags values. The three scheduler flags mean what the
// service's scheduler makes of them; sh and mh name two of them.
const (
	FlagPersistent ServiceFlags = 0x0001 // IP_VS_SVC_F_PERSISTENT
	// FlagHashed is set by the kernel on every live service; it is ignored
	// when sent.
	FlagHashed    ServiceFlags = 0x0002 // IP_VS_SVC_F_HASHED
	FlagOnePacket ServiceFlags = 0x0004 // IP_VS_SVC_F_ONEPACKET
	FlagSched1    ServiceFlags = 0x0008 // IP_VS_SVC_F_SCHED1
	FlagSched2    ServiceFlags = 0x0010 // IP_VS_SVC_F_SCHED2
	FlagSched3    ServiceFlags = 0x0020 // IP_VS_SVC_F_SCHED3

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

// MaxPersistenceTimeout is the longest persistence timeout the client
// sends. The kernel keeps it as seconds × HZ in 32 bits without checking,
// so a longer one is silently changed (on a 250 Hz kernel 2^32−1 s reads
// back as 17,179,868 s, and 17,179,870 s as 0); at 1000 Hz, the most a
// kernel can be built with, this is the longest kept intact.
const MaxPersistenceTimeout = 4294967 * time.Second

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
	// Timeout is the persistence timeout, in whole seconds, at most
	// MaxPersistenceTimeout.
	Timeout time.Duration
	// Netmask is the persistence granularity.
	Netmask Netmask

	// Stats are the service's counters and rates. They are read-only.
	Stats Stats
}

// encode writes the attributes that identify the service.
func (k ServiceKey) encode(w *nlmsg.AttrWriter) {
	w.U16(ipvsh.SvcAttrAF, uint16(k.Family))
	if k.FWMark != 0 {
		w.U32(ipvsh.SvcAttrFwmark, k.FWMark)
		return
	}
	w.U16(ipvsh.SvcAttrProtocol, uint16(k.Protocol))
	w.Addr(ipvsh.SvcAttrAddr, k.Address)
	w.BE16(ipvsh.SvcAttrPort, k.Port)
}

// encodeNest writes the SERVICE nest with only the identity.
func (k ServiceKey) encodeNest(w *nlmsg.AttrWriter) {
	n := w.Nest(ipvsh.CmdAttrService)
	k.encode(w)
	w.End(n)
}

// encodeNest writes the SERVICE nest of NEW_SERVICE and SET_SERVICE, in
// the order ipvsadm uses; k is the service's key.
func (s *Service) encodeNest(w *nlmsg.AttrWriter, k ServiceKey) {
	n := w.Nest(ipvsh.CmdAttrService)
	k.encode(w)
	w.Str(ipvsh.SvcAttrSchedName, s.Scheduler)
	if s.PersistenceEngine != "" {
		w.Str(ipvsh.SvcAttrPEName, s.PersistenceEngine)
	}
	mask := uint32(s.FlagsMask)
	if mask == 0 {
		mask = math.MaxUint32
	}
	// struct ip_vs_flags { __u32 flags; __u32 mask; }, host order.
	w.Header(ipvsh.SvcAttrFlags, 8)
	w.B = binary.NativeEndian.AppendUint32(w.B, uint32(s.Flags))
	w.B = binary.NativeEndian.AppendUint32(w.B, mask)
	w.U32(ipvsh.SvcAttrTimeout, uint32(s.Timeout/time.Second))
	if k.Family == FamilyIPv6 {
		w.U32(ipvsh.SvcAttrNetmask, s.Netmask.wire(k.Family))
	} else {
		w.BE32(ipvsh.SvcAttrNetmask, s.Netmask.wire(k.Family))
	}
	w.End(n)
}

// decode reads the payload of a SERVICE nest. Missing attributes are left
// zero (a fwmark service has no protocol, address or port); unknown ones
// are skipped, for kernels newer than this package.
func (s *Service) decode(b []byte) error {
	*s = Service{}
	var addr, netmask []byte
	var stats statsPair
	a := nlmsg.NewAttrReader(b)
	for a.Next() {
		switch a.Type() {
		case ipvsh.SvcAttrAF:
			s.Family = Family(a.U16("service AF"))
		case ipvsh.SvcAttrProtocol:
			s.Protocol = Protocol(a.U16("service PROTOCOL"))
		case ipvsh.SvcAttrAddr:
			addr = a.Data()
		case ipvsh.SvcAttrPort:
			s.Port = a.BE16("service PORT")
		case ipvsh.SvcAttrFwmark:
			s.FWMark = a.U32("service FWMARK")
		case ipvsh.SvcAttrSchedName:
			s.Scheduler = internName(nlmsg.CString(a.Data()))
		case ipvsh.SvcAttrPEName:
			s.PersistenceEngine = internName(nlmsg.CString(a.Data()))
		case ipvsh.SvcAttrFlags:
			// The mask in replies is always ~0; only the flags matter.
			if v := a.Fixed("service FLAGS", 8); v != nil {
				s.Flags = ServiceFlags(binary.NativeEndian.Uint32(v))
			}
		case ipvsh.SvcAttrTimeout:
			s.Timeout = time.Duration(a.U32("service TIMEOUT")) * time.Second
		case ipvsh.SvcAttrNetmask:
			// Its byte order depends on the family, which may come later.
			netmask = a.Fixed("service NETMASK", 4)
		case ipvsh.SvcAttrStats:
			stats.stats32 = a.Data()
		case ipvsh.SvcAttrStats64:
			stats.stats64 = a.Data()
		}
	}
	if a.Err() != nil {
		return a.Err()
	}
	if err := stats.decode(&s.Stats); err != nil {
		return err
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

// knownNames are the scheduler and persistence engine names that the
// kernel ships; decoding them returns these strings instead of
// allocating new ones, since every service reply carries one.
var knownNames = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos", "none", "sip"}

// internName returns b as a string, without allocating for a known name.
func internName(b []byte) string {
	for _, n := range knownNames {
		if string(b) == n {
			return n
		}
	}
	return string(b)
}

// decodeServiceReply decodes the attributes of a NEW_SERVICE reply.
func decodeServiceReply(p []byte, s *Service) error {
	return decodeNested(p, ipvsh.CmdAttrService, "SERVICE", s.decode)
}

// The operands of service requests: one that only names a service, and
// one that carries all its settings.
type (
	serviceRef  Service
	serviceSpec Service
)

func (s serviceRef) validate() error { return (*Service)(&s).key().validate() }
func (s serviceRef) String() string  { return Service(s).String() }

func (s serviceRef) encode(b []byte) []byte {
	w := nlmsg.AttrWriter{B: b}
	(*Service)(&s).key().encodeNest(&w)
	return w.B
}

func (s serviceSpec) validate() error { return (*Service)(&s).validate((*Service)(&s).key()) }
func (s serviceSpec) String() string  { return Service(s).String() }

func (s serviceSpec) encode(b []byte) []byte {
	w := nlmsg.AttrWriter{B: b}
	(*Service)(&s).encodeNest(&w, (*Service)(&s).key())
	return w.B
}

// Services returns every service of the namespace, with its stats. An
// empty table is an empty slice. A table of more than 4,194,304 services
// (so that a peer that never ends a dump can not grow memory without
// bound) is an error: AllServices reads any.
func (c *Client) Services(ctx context.Context) ([]Service, error) {
	return collect(opServices, c.AllServices(ctx))
}

// AllServices returns an iterator over the services of the namespace that
// decodes each as it arrives, so memory stays bounded by one receive
// buffer whatever the table's size. An error ends the iteration.
//
// The kernel does not snapshot its table for a dump: services created or
// removed meanwhile may be missed or seen twice.
func (c *Client) AllServices(ctx context.Context) iter.Seq2[Service, error] {
	return dump(ctx, c, reqServices, tableWide{}, decodeServiceReply)
}

// Service returns the service svc identifies, with its settings and
// stats. If it does not exist, the error matches os.ErrNotExist.
func (c *Client) Service(ctx context.Context, svc Service) (Service, error) {
	return get(ctx, c, reqService, serviceRef(svc), decodeServiceReply)
}

// CreateService creates a service. If it exists, the error matches
// os.ErrExist; if its scheduler or persistence engine does not, it
// matches os.ErrNotExist.
func (c *Client) CreateService(ctx context.Context, svc Service) error {
	return call(ctx, c, reqCreateService, serviceSpec(svc), nil)
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
	return call(ctx, c, reqUpdateService, serviceSpec(svc), nil)
}

// RemoveService removes the service svc identifies, with its
// destinations. If it does not exist, the error matches os.ErrNotExist.
func (c *Client) RemoveService(ctx context.Context, svc Service) error {
	return call(ctx, c, reqRemoveService, serviceRef(svc), nil)
}

// Flush removes every service, with its destinations, from the namespace.
func (c *Client) Flush(ctx context.Context) error {
	return call(ctx, c, reqFlush, tableWide{}, nil)
}
