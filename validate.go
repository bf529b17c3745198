package ipvs

import (
	"math"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// What the client refuses to send, because the kernel would refuse it or
// silently change it. Every refusal is an *InvalidError that names the
// field and quotes the value; the client's methods return it wrapped in
// an *Error before anything is sent, and Validate returns it alone, so
// that a program can check all its input before its first change.

// Validate checks the service as CreateService and UpdateService do
// before sending it, and returns the *InvalidError they would wrap, or
// nil. What only the kernel knows, such as whether a scheduler module
// exists, it cannot check.
func (s Service) Validate() error { return s.validate(s.key()) }

// Validate checks the destination as CreateDestination and
// UpdateDestination do before sending it to the service svc identifies
// (whose identity is checked too), and returns the *InvalidError they
// would wrap, or nil.
func (d Destination) Validate(svc ServiceKey) error {
	return validateDestination(svc, d.key(svc), &d, true)
}

// Validate checks the service and each destination as CreateService and
// CreateDestination do before sending them, and returns the *Error the
// first that would refuse one returns (naming the object, and wrapping
// the *InvalidError that names the field and the value), or nil: a whole
// desired table is checked with one call per service, at the cost of the
// checks alone.
func (vs VirtualServer) Validate() error {
	k := vs.Service.key()
	if err := vs.Service.validate(k); err != nil {
		return wrap(reqCreateService, k, err)
	}
	for i := range vs.Destinations {
		d := &vs.Destinations[i]
		dk := d.key(k)
		if err := d.validate(k, dk); err != nil {
			return wrap(reqCreateDest, destIn{dk, k}, err)
		}
	}
	return nil
}

// destIn names a destination of a service in errors.
type destIn struct {
	dk destKey
	k  ServiceKey
}

func (d destIn) String() string { return d.dk.String() + " of " + d.k.String() }

// validate checks a service to be created or updated; k is its key.
func (s *Service) validate(k ServiceKey) error {
	if err := k.validate(); err != nil {
		return err
	}
	if k.FWMark == 0 && k.Protocol != ProtocolTCP && k.Protocol != ProtocolUDP && k.Protocol != ProtocolSCTP {
		return invalidf("service protocol", "%s is not tcp, udp or sctp", k.Protocol)
	}
	if s.Scheduler == "" {
		return invalidf("service scheduler", "is empty (for example rr, wlc or mh; none for no scheduler)")
	}
	if err := checkName("service scheduler", s.Scheduler, ipvsh.SchedNameMaxLen); err != nil {
		return err
	}
	if err := checkName("service persistence engine", s.PersistenceEngine, ipvsh.PENameMaxLen); err != nil {
		return err
	}
	if err := checkSeconds("service timeout", s.Timeout, MaxPersistenceTimeout); err != nil {
		return err
	}
	return s.Netmask.check(k.Family)
}

// validate checks the fields that identify a service.
func (k ServiceKey) validate() error {
	switch k.Family {
	case FamilyIPv4, FamilyIPv6:
	case 0:
		return invalidf("service", "needs a family with its fwmark, or an address")
	default:
		return invalidf("service family", "%s is not ipv4 or ipv6", k.Family)
	}
	if k.FWMark != 0 {
		if k.Address.IsValid() || k.Port != 0 || k.Protocol != 0 {
			return invalidf("service", "has fwmark %d and also protocol, address or port: choose one identity", k.FWMark)
		}
		return nil
	}
	if !k.Address.IsValid() {
		return invalidf("service", "has neither fwmark nor address")
	}
	// Any IP protocol names a service: the kernel accepts any on create
	// (it balances only TCP, UDP and SCTP, which Service.validate asks
	// of services to create or update), and a table that holds another
	// must still be readable.
	switch {
	case k.Protocol == 0:
		return invalidf("service protocol", "is not set (tcp, udp or sctp)")
	case k.Protocol > 255:
		return invalidf("service protocol", "%s is not an IP protocol number", k.Protocol)
	}
	return checkAddrFamily("service", k.Family, k.Address)
}

// validate checks a destination to be created or updated in the service
// k; dk is its own key.
func (d *Destination) validate(k ServiceKey, dk destKey) error {
	if err := dk.validate(); err != nil {
		return err
	}
	if dk.family != k.Family && d.Forward != ForwardTunnel {
		return invalidf("destination family", "%s differs from the service's %s, which only a tunnel destination may do (forward is %s)", dk.family, k.Family, d.Forward)
	}
	if d.Forward > ForwardBypass {
		return invalidf("destination forward", "%s is not a forwarding method", d.Forward)
	}
	if d.Weight > math.MaxInt32 {
		return invalidf("destination weight", "%d is more than %d", d.Weight, math.MaxInt32)
	}
	if d.UpperThreshold > math.MaxInt32 {
		return invalidf("destination upper threshold", "%d is more than %d", d.UpperThreshold, math.MaxInt32)
	}
	if d.LowerThreshold > d.UpperThreshold {
		return invalidf("destination lower threshold", "%d is above the upper threshold %d (the kernel refuses this even when the upper one is 0)", d.LowerThreshold, d.UpperThreshold)
	}
	if d.Forward != ForwardTunnel {
		return nil
	}
	switch d.TunnelType {
	case TunnelIPIP, TunnelGRE:
	case TunnelGUE:
		if d.TunnelPort == 0 {
			return invalidf("destination tunnel port", "is 0, and a GUE tunnel needs one")
		}
	default:
		return invalidf("destination tunnel type", "%s is not ipip, gue or gre", d.TunnelType)
	}
	if d.TunnelFlags&^(TunnelChecksum|TunnelRemoteChecksum) != 0 {
		return invalidf("destination tunnel flags", "%s holds unknown bits", d.TunnelFlags)
	}
	return nil
}

// validateDestination checks a request about the destination d, whose
// key is dk, of the service k: one that names it, or one that carries all
// its settings (full). The operands and Batch share it.
func validateDestination(k ServiceKey, dk destKey, d *Destination, full bool) error {
	if err := k.validate(); err != nil {
		return err
	}
	if full {
		return d.validate(k, dk)
	}
	return dk.validate()
}

// validate checks the fields that identify a destination.
func (k destKey) validate() error {
	if !k.addr.IsValid() {
		return invalidf("destination address", "is not set")
	}
	if err := checkAddrFamily("destination", k.family, k.addr); err != nil {
		return err
	}
	if k.addr.IsUnspecified() {
		// The kernel refuses it with EINVAL: it is no unicast address.
		return invalidf("destination address", "%s is unspecified", k.addr)
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
// number of seconds, or is longer than limit.
func checkSeconds(field string, d, limit time.Duration) error {
	switch {
	case d < 0:
		return invalidf(field, "%s is negative", d)
	case d%time.Second != 0:
		return invalidf(field, "%s is not a whole number of seconds", d)
	case d > limit:
		return invalidf(field, "%s (%d s) is more than %d s, the most every kernel keeps intact", d, d/time.Second, limit/time.Second)
	}
	return nil
}
