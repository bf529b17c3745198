package ipvs

import (
	"context"
	"fmt"
	"iter"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
)

// ForwardMethod is how packets reach a destination (IP_VS_CONN_F_*).
type ForwardMethod uint32

// Possible ForwardMethod values.
const (
	// ForwardMasquerade is NAT (ipvsadm -m).
	ForwardMasquerade ForwardMethod = ipvsh.ConnFMasq
	// ForwardLocalNode delivers to the local host. The kernel chooses it
	// by itself for local addresses in some versions; it is rarely asked for.
	ForwardLocalNode ForwardMethod = ipvsh.ConnFLocalNode
	// ForwardTunnel is IP-in-IP, GUE or GRE tunnelling (ipvsadm -i).
	ForwardTunnel ForwardMethod = ipvsh.ConnFTunnel
	// ForwardDirectRoute is direct routing (ipvsadm -g).
	ForwardDirectRoute ForwardMethod = ipvsh.ConnFDroute
	// ForwardBypass sends packets on unchanged.
	ForwardBypass ForwardMethod = ipvsh.ConnFBypass
)

// String returns the method's name as ipvsadm lists it.
func (m ForwardMethod) String() string {
	switch m {
	case ForwardMasquerade:
		return "masq"
	case ForwardLocalNode:
		return "local"
	case ForwardTunnel:
		return "tunnel"
	case ForwardDirectRoute:
		return "route"
	case ForwardBypass:
		return "bypass"
	}
	return "forward(" + strconv.Itoa(int(m)) + ")"
}

// TunnelType is the encapsulation of a tunnelled destination.
type TunnelType uint8

// Possible TunnelType values.
const (
	TunnelIPIP TunnelType = ipvsh.TunnelTypeIPIP
	// TunnelGUE is Generic UDP Encapsulation; it needs a TunnelPort.
	TunnelGUE TunnelType = ipvsh.TunnelTypeGUE
	TunnelGRE TunnelType = ipvsh.TunnelTypeGRE
)

// String returns "ipip", "gue", "gre" or the number of another type.
func (t TunnelType) String() string {
	switch t {
	case TunnelIPIP:
		return "ipip"
	case TunnelGUE:
		return "gue"
	case TunnelGRE:
		return "gre"
	}
	return "tunnel(" + strconv.Itoa(int(t)) + ")"
}

// TunnelFlags are the checksum options of a GUE or GRE tunnel.
type TunnelFlags uint16

// Possible TunnelFlags values. The zero value is no checksum.
const (
	TunnelChecksum       TunnelFlags = ipvsh.TunnelEncapFlagCsum
	TunnelRemoteChecksum TunnelFlags = ipvsh.TunnelEncapFlagRemCsum
)

// String returns "nocsum", or "csum", "remcsum" or both joined with "|".
func (f TunnelFlags) String() string {
	if f == 0 {
		return "nocsum"
	}
	var parts []string
	if f&TunnelChecksum != 0 {
		parts = append(parts, "csum")
	}
	if f&TunnelRemoteChecksum != 0 {
		parts = append(parts, "remcsum")
	}
	if rest := f &^ (TunnelChecksum | TunnelRemoteChecksum); rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint16(rest)))
	}
	return strings.Join(parts, "|")
}

// Destination is a real server behind a virtual service.
//
// Address and Port identify it within its service. Its family may differ
// from the service's only when it is a tunnel destination.
type Destination struct {
	// Family is the address family. It may be left zero: it is then the
	// family of Address.
	Family  Family
	Address netip.Addr
	Port    uint16

	Forward ForwardMethod
	// Weight is the destination's share of new connections; 0 takes it
	// out of rotation without dropping its connections. At most 2^31-1.
	Weight uint32
	// UpperThreshold and LowerThreshold bound the destination's
	// connections: past the upper one it gets no new connections until it
	// falls below the lower one. 0 means no limit. Lower must not exceed
	// upper, even when upper is 0.
	UpperThreshold uint32
	LowerThreshold uint32

	// TunnelType, TunnelPort and TunnelFlags apply when Forward is
	// ForwardTunnel (Linux 5.2 and later; older kernels ignore them and
	// use IPIP).
	TunnelType  TunnelType
	TunnelPort  uint16
	TunnelFlags TunnelFlags

	// The connection counts and Stats are read-only.
	ActiveConnections     uint32
	InactiveConnections   uint32
	PersistentConnections uint32
	Stats                 Stats
}

// family returns the destination's address family, from Address if unset.
func (d *Destination) family() Family {
	if d.Family != 0 || !d.Address.IsValid() {
		return d.Family
	}
	return familyOf(d.Address)
}

// String returns the destination's address and port, as "10.0.0.2:80" or
// "[2001:db8::2]:80".
func (d Destination) String() string {
	a := d.Address
	if d.family() == FamilyIPv4 {
		a = a.Unmap()
	}
	return netip.AddrPortFrom(a, d.Port).String()
}

// validateKey checks the fields that identify a destination.
func (d *Destination) validateKey() error {
	if !d.Address.IsValid() {
		return invalidf("destination address", "is not set")
	}
	switch f := d.family(); {
	case f != FamilyIPv4 && f != FamilyIPv6:
		return invalidf("destination family", "%s is not ipv4 or ipv6", f)
	case f == FamilyIPv4 && !d.Address.Unmap().Is4() || f == FamilyIPv6 && d.Address.Is4():
		return invalidf("destination address", "%s does not match family %s", d.Address, f)
	}
	return nil
}

// validate checks a destination to be created or updated in svc.
func (d *Destination) validate(svc *Service) error {
	if err := d.validateKey(); err != nil {
		return err
	}
	if f := d.family(); f != svc.family() && d.Forward != ForwardTunnel {
		return invalidf("destination family", "%s differs from the service's %s, which only a tunnel destination may do (forward is %s)", f, svc.family(), d.Forward)
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
	if d.Forward == ForwardTunnel {
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
	}
	return nil
}

// encodeAddr writes the attributes that identify the destination.
func (d *Destination) encodeKey(w *attrWriter) {
	f := d.family()
	a := d.Address
	if f == FamilyIPv4 {
		a = a.Unmap()
	}
	w.addr(ipvsh.DestAttrAddr, a)
	w.be16(ipvsh.DestAttrPort, d.Port)
	// Always sent: it defaults to the service's family when absent, and a
	// mixed-family destination can be found only with it. Kernels before
	// 3.18 ignore it.
	w.u16(ipvsh.DestAttrAddrFamily, uint16(f))
}

// encodeKeyNest writes the DEST nest of DEL_DEST.
func (d *Destination) encodeKeyNest(w *attrWriter) {
	n := w.nest(ipvsh.CmdAttrDest)
	d.encodeKey(w)
	w.end(n)
}

// encodeNest writes the DEST nest of NEW_DEST and SET_DEST.
func (d *Destination) encodeNest(w *attrWriter) {
	n := w.nest(ipvsh.CmdAttrDest)
	d.encodeKey(w)
	w.u32(ipvsh.DestAttrFwdMethod, uint32(d.Forward))
	w.u32(ipvsh.DestAttrWeight, d.Weight)
	if d.Forward == ForwardTunnel {
		w.u8(ipvsh.DestAttrTunType, uint8(d.TunnelType))
		w.be16(ipvsh.DestAttrTunPort, d.TunnelPort)
		w.u16(ipvsh.DestAttrTunFlags, uint16(d.TunnelFlags))
	}
	w.u32(ipvsh.DestAttrUThresh, d.UpperThreshold)
	w.u32(ipvsh.DestAttrLThresh, d.LowerThreshold)
	w.end(n)
}

// decode reads the payload of a DEST nest. svcFamily is the family to
// assume when the kernel predates ADDR_FAMILY (before 3.18).
func (d *Destination) decode(b []byte, svcFamily Family) error {
	*d = Destination{}
	var (
		addr    []byte
		stats32 []byte // decoded only if no STATS64 follows
		have64  bool
	)
	a := attrs{b: b}
	for a.next() {
		switch a.typ {
		case ipvsh.DestAttrAddr:
			addr = a.data
		case ipvsh.DestAttrPort:
			d.Port = a.be16("destination PORT")
		case ipvsh.DestAttrFwdMethod:
			d.Forward = ForwardMethod(a.u32("destination FWD_METHOD") & ipvsh.ConnFFwdMask)
		case ipvsh.DestAttrWeight:
			d.Weight = a.u32("destination WEIGHT")
		case ipvsh.DestAttrUThresh:
			d.UpperThreshold = a.u32("destination U_THRESH")
		case ipvsh.DestAttrLThresh:
			d.LowerThreshold = a.u32("destination L_THRESH")
		case ipvsh.DestAttrActiveConns:
			d.ActiveConnections = a.u32("destination ACTIVE_CONNS")
		case ipvsh.DestAttrInactConns:
			d.InactiveConnections = a.u32("destination INACT_CONNS")
		case ipvsh.DestAttrPersistConns:
			d.PersistentConnections = a.u32("destination PERSIST_CONNS")
		case ipvsh.DestAttrAddrFamily:
			d.Family = Family(a.u16("destination ADDR_FAMILY"))
		case ipvsh.DestAttrTunType:
			d.TunnelType = TunnelType(a.u8("destination TUN_TYPE"))
		case ipvsh.DestAttrTunPort:
			d.TunnelPort = a.be16("destination TUN_PORT")
		case ipvsh.DestAttrTunFlags:
			d.TunnelFlags = TunnelFlags(a.u16("destination TUN_FLAGS"))
		case ipvsh.DestAttrStats:
			stats32 = a.data
		case ipvsh.DestAttrStats64:
			if err := d.Stats.decode(a.data, true); err != nil {
				a.setErr(err)
			}
			have64 = true
		}
	}
	if a.err != nil {
		return a.err
	}
	if stats32 != nil && !have64 {
		if err := d.Stats.decode(stats32, false); err != nil {
			return err
		}
	}
	if d.Family == 0 {
		d.Family = svcFamily
	}
	if addr != nil {
		ip, err := decodeAddr(d.Family, addr)
		if err != nil {
			return fmt.Errorf("destination ADDR: %w", err)
		}
		d.Address = ip
	}
	return nil
}

// decodeDestinationMessage decodes a NEW_DEST reply message.
func decodeDestinationMessage(msg []byte, svcFamily Family, d *Destination) error {
	p, err := genlPayload(msg)
	if err != nil {
		return err
	}
	nest, ok, err := nested(p, ipvsh.CmdAttrDest)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("destination reply has no DEST attribute")
	}
	return d.decode(nest, svcFamily)
}

// Destinations returns the destinations of the service svc identifies.
//
// The kernel answers an empty list, not an error, for a service that does
// not exist: use Service to tell the two apart.
func (c *Client) Destinations(ctx context.Context, svc Service) ([]Destination, error) {
	return collect(c.AllDestinations(ctx, svc))
}

// AllDestinations returns an iterator over the destinations of the
// service svc identifies, decoded as they arrive. An error ends the
// iteration.
func (c *Client) AllDestinations(ctx context.Context, svc Service) iter.Seq2[Destination, error] {
	r := request{op: opDests, cmd: ipvsh.CmdGetDest, flags: flagsDump, body: bodySvcKey, svc: svc}
	f := svc.family()
	return dump(c, ctx, r, func(msg []byte, d *Destination) error {
		return decodeDestinationMessage(msg, f, d)
	})
}

// CreateDestination adds a destination to the service svc identifies. If
// the service does not exist, the error matches os.ErrNotExist; if the
// destination exists, os.ErrExist.
func (c *Client) CreateDestination(ctx context.Context, svc Service, dst Destination) error {
	return c.writeDestination(ctx, opCreateDest, ipvsh.CmdNewDest, svc, dst)
}

// UpdateDestination changes the forwarding method, weight, thresholds and
// tunnel settings of a destination of the service svc identifies. If
// either does not exist, the error matches os.ErrNotExist.
func (c *Client) UpdateDestination(ctx context.Context, svc Service, dst Destination) error {
	return c.writeDestination(ctx, opUpdateDest, ipvsh.CmdSetDest, svc, dst)
}

func (c *Client) writeDestination(ctx context.Context, op string, cmd uint8, svc Service, dst Destination) error {
	return c.exec(ctx, &request{op: op, cmd: cmd, flags: flagsWrite, body: bodyDest, svc: svc, dst: dst}, nil)
}

// RemoveDestination removes a destination, identified by its address and
// port, from the service svc identifies. If either does not exist, the
// error matches os.ErrNotExist.
func (c *Client) RemoveDestination(ctx context.Context, svc Service, dst Destination) error {
	return c.exec(ctx, &request{op: opRemoveDest, cmd: ipvsh.CmdDelDest, flags: flagsWrite, body: bodyDestKey, svc: svc, dst: dst}, nil)
}
