package ipvs

import (
	"context"
	"fmt"
	"iter"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
)

// Destination is a real server behind a virtual service.
//
// Address and Port identify it within its service. Its family may differ
// from the service's only when it is a tunnel destination. A Port of 0 in
// a service that is not a fwmark service means the service's port, as it
// does for ipvsadm.
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

// encode writes the attributes that identify the destination.
func (k destKey) encode(w *nlmsg.AttrWriter) {
	w.Addr(ipvsh.DestAttrAddr, k.addr)
	w.BE16(ipvsh.DestAttrPort, k.port)
	// Always sent: it defaults to the service's family when absent, and a
	// mixed-family destination can be found only with it. Kernels before
	// 3.18 ignore it.
	w.U16(ipvsh.DestAttrAddrFamily, uint16(k.family))
}

// encodeNest writes the DEST nest of NEW_DEST and SET_DEST for a
// destination whose key is dk.
func (d *Destination) encodeNest(w *nlmsg.AttrWriter, dk destKey) {
	n := w.Nest(ipvsh.CmdAttrDest)
	dk.encode(w)
	w.U32(ipvsh.DestAttrFwdMethod, uint32(d.Forward))
	w.U32(ipvsh.DestAttrWeight, d.Weight)
	if d.Forward == ForwardTunnel {
		w.U8(ipvsh.DestAttrTunType, uint8(d.TunnelType))
		w.BE16(ipvsh.DestAttrTunPort, d.TunnelPort)
		w.U16(ipvsh.DestAttrTunFlags, uint16(d.TunnelFlags))
	}
	w.U32(ipvsh.DestAttrUThresh, d.UpperThreshold)
	w.U32(ipvsh.DestAttrLThresh, d.LowerThreshold)
	w.End(n)
}

// decode reads the payload of a DEST nest. svcFamily is the family to
// assume when the kernel predates ADDR_FAMILY (before 3.18).
func (d *Destination) decode(b []byte, svcFamily Family) error {
	*d = Destination{}
	var addr []byte
	var stats statsPair
	a := nlmsg.NewAttrReader(b)
	for a.Next() {
		switch a.Type() {
		case ipvsh.DestAttrAddr:
			addr = a.Data()
		case ipvsh.DestAttrPort:
			d.Port = a.BE16("destination PORT")
		case ipvsh.DestAttrFwdMethod:
			d.Forward = ForwardMethod(a.U32("destination FWD_METHOD") & ipvsh.ConnFFwdMask)
		case ipvsh.DestAttrWeight:
			d.Weight = a.U32("destination WEIGHT")
		case ipvsh.DestAttrUThresh:
			d.UpperThreshold = a.U32("destination U_THRESH")
		case ipvsh.DestAttrLThresh:
			d.LowerThreshold = a.U32("destination L_THRESH")
		case ipvsh.DestAttrActiveConns:
			d.ActiveConnections = a.U32("destination ACTIVE_CONNS")
		case ipvsh.DestAttrInactConns:
			d.InactiveConnections = a.U32("destination INACT_CONNS")
		case ipvsh.DestAttrPersistConns:
			d.PersistentConnections = a.U32("destination PERSIST_CONNS")
		case ipvsh.DestAttrAddrFamily:
			d.Family = Family(a.U16("destination ADDR_FAMILY"))
		case ipvsh.DestAttrTunType:
			d.TunnelType = TunnelType(a.U8("destination TUN_TYPE"))
		case ipvsh.DestAttrTunPort:
			d.TunnelPort = a.BE16("destination TUN_PORT")
		case ipvsh.DestAttrTunFlags:
			d.TunnelFlags = TunnelFlags(a.U16("destination TUN_FLAGS"))
		case ipvsh.DestAttrStats:
			stats.stats32 = a.Data()
		case ipvsh.DestAttrStats64:
			stats.stats64 = a.Data()
		}
	}
	if a.Err() != nil {
		return a.Err()
	}
	if err := stats.decode(&d.Stats); err != nil {
		return err
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

// decodeDestinationReply decodes the attributes of a NEW_DEST reply.
func decodeDestinationReply(p []byte, svcFamily Family, d *Destination) error {
	return decodeNested(p, ipvsh.CmdAttrDest, "DEST", func(b []byte) error { return d.decode(b, svcFamily) })
}

// destinationOp is the operand of destination requests: a destination of
// a service, named (a removal's) or with all its settings (full: a
// creation's or an update's).
type destinationOp struct {
	svc  ServiceKey
	dst  Destination
	full bool
}

func (o destinationOp) validate() error {
	return validateDestination(o.svc, o.dst.key(o.svc), &o.dst, o.full)
}

func (o destinationOp) encode(b []byte) []byte {
	return encodeDestination(b, o.svc, o.dst.key(o.svc), &o.dst, o.full)
}

func (o destinationOp) String() string { return o.dst.key(o.svc).String() + " of " + o.svc.String() }

// encodeDestination appends the attributes of a request about the
// destination d, whose key is dk, of the service k.
func encodeDestination(b []byte, k ServiceKey, dk destKey, d *Destination, full bool) []byte {
	w := nlmsg.AttrWriter{B: b}
	k.encodeNest(&w)
	encodeDestinationNest(&w, dk, d, full)
	return w.B
}

// encodeDestinationNest writes the DEST nest of a request about d.
func encodeDestinationNest(w *nlmsg.AttrWriter, dk destKey, d *Destination, full bool) {
	if full {
		d.encodeNest(w, dk)
		return
	}
	n := w.Nest(ipvsh.CmdAttrDest)
	dk.encode(w)
	w.End(n)
}

// Destinations returns the destinations of the service svc identifies.
//
// The kernel answers an empty list, not an error, for a service that does
// not exist: use Service to tell the two apart.
//
// Destination dumps read a page at a time, whatever
// Config.ReceiveBufferSize says: a service's destinations usually fit in
// one, and the kernel allocates each chunk at the size of the largest
// read, twice per dump.
func (c *Client) Destinations(ctx context.Context, svc Service) ([]Destination, error) {
	return collect(opDests, c.AllDestinations(ctx, svc))
}

// AllDestinations returns an iterator over the destinations of the
// service svc identifies, decoded as they arrive. An error ends the
// iteration.
func (c *Client) AllDestinations(ctx context.Context, svc Service) iter.Seq2[Destination, error] {
	k := svc.key()
	return dump(ctx, c, reqDestinations, serviceRef(svc), func(p []byte, d *Destination) error {
		return decodeDestinationReply(p, k.Family, d)
	})
}

// CreateDestination adds a destination to the service svc identifies. If
// the service does not exist, the error matches os.ErrNotExist; if the
// destination exists, os.ErrExist.
func (c *Client) CreateDestination(ctx context.Context, svc Service, dst Destination) error {
	return call(ctx, c, reqCreateDest, destinationOp{svc.key(), dst, true}, nil)
}

// UpdateDestination changes the forwarding method, weight, thresholds and
// tunnel settings of a destination of the service svc identifies. If
// either does not exist, the error matches os.ErrNotExist.
func (c *Client) UpdateDestination(ctx context.Context, svc Service, dst Destination) error {
	return call(ctx, c, reqUpdateDest, destinationOp{svc.key(), dst, true}, nil)
}

// RemoveDestination removes a destination, identified by its address and
// port, from the service svc identifies. If either does not exist, the
// error matches os.ErrNotExist.
func (c *Client) RemoveDestination(ctx context.Context, svc Service, dst Destination) error {
	return call(ctx, c, reqRemoveDest, destinationOp{svc.key(), dst, false}, nil)
}

// ForwardMethod is how packets reach a destination (IP_VS_CONN_F_*).
type ForwardMethod uint32

// Possible ForwardMethod values.
const (
	// ForwardMasquerade is NAT (ipvsadm -m).
	ForwardMasquerade ForwardMethod = 0 // IP_VS_CONN_F_MASQ
	// ForwardLocalNode delivers to the local host. The kernel chooses it
	// by itself for local addresses in some versions; it is rarely asked for.
	ForwardLocalNode ForwardMethod = 1 // IP_VS_CONN_F_LOCALNODE
	// ForwardTunnel is IP-in-IP, GUE or GRE tunnelling (ipvsadm -i).
	ForwardTunnel ForwardMethod = 2 // IP_VS_CONN_F_TUNNEL
	// ForwardDirectRoute is direct routing (ipvsadm -g).
	ForwardDirectRoute ForwardMethod = 3 // IP_VS_CONN_F_DROUTE
	// ForwardBypass sends packets on unchanged.
	ForwardBypass ForwardMethod = 4 // IP_VS_CONN_F_BYPASS
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
	TunnelIPIP TunnelType = 0 // IP_VS_CONN_F_TUNNEL_TYPE_IPIP
	// TunnelGUE is Generic UDP Encapsulation; it needs a TunnelPort.
	TunnelGUE TunnelType = 1 // IP_VS_CONN_F_TUNNEL_TYPE_GUE
	TunnelGRE TunnelType = 2 // IP_VS_CONN_F_TUNNEL_TYPE_GRE
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
	TunnelChecksum       TunnelFlags = 1 << 0 // IP_VS_TUNNEL_ENCAP_FLAG_CSUM
	TunnelRemoteChecksum TunnelFlags = 1 << 1 // IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM
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
