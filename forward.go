package ipvs

import (
	"fmt"
	"strconv"
	"strings"
)

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
