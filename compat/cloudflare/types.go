package ipvs

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cloudflare/ipvs/netmask"
)

// Client is a connection to IPVS, as cloudflare/ipvs defines it. New
// returns one; it is safe for concurrent use.
type Client interface {
	Info() (Info, error)

	Config() (Config, error)
	SetConfig(Config) error

	Services() ([]ServiceExtended, error)
	Service(Service) (ServiceExtended, error)
	CreateService(Service) error
	UpdateService(Service) error
	RemoveService(Service) error

	Destinations(Service) ([]DestinationExtended, error)
	CreateDestination(Service, Destination) error
	UpdateDestination(Service, Destination) error
	RemoveDestination(Service, Destination) error
}

// Service is a virtual service. Address, Port, Family and Protocol (or
// FWMark and Family) identify it; the other fields configure it.
type Service struct {
	Address netip.Addr
	// Netmask is the persistence granularity; the zero Mask means the
	// whole address (/32 or /128), where cloudflare/ipvs sends no netmask
	// and the kernel refuses the service.
	Netmask   netmask.Mask
	Scheduler string
	// Timeout is the persistence timeout in seconds.
	Timeout uint32
	Flags   Flags
	Port    uint16
	FWMark  uint32
	// Family may be left zero when Address is set: it is then Address's.
	Family   AddressFamily
	Protocol Protocol
}

// ServiceExtended is a Service as the kernel reports it, with its
// counters: Stats with the widths of the kernel's 32-bit STATS attribute,
// Stats64 whole.
type ServiceExtended struct {
	Service
	Stats   Stats
	Stats64 Stats
}

// Destination is a real server of a service, identified within it by
// Address and Port.
type Destination struct {
	Address        netip.Addr
	FwdMethod      ForwardType
	Weight         uint32
	UpperThreshold uint32
	LowerThreshold uint32
	Port           uint16
	// Family may be left zero: it is then Address's.
	Family      AddressFamily
	TunnelType  TunnelType
	TunnelPort  uint16
	TunnelFlags TunnelFlags
}

// DestinationExtended is a Destination as the kernel reports it, with
// its connection counts and counters (see ServiceExtended).
type DestinationExtended struct {
	Destination
	ActiveConnections     uint32
	InactiveConnections   uint32
	PersistentConnections uint32
	Stats                 Stats
	Stats64               Stats
}

// Stats are the counters and rate estimates of a service or destination.
type Stats struct {
	Connections     uint64
	IncomingPackets uint64
	OutgoingPackets uint64
	IncomingBytes   uint64
	OutgoingBytes   uint64

	ConnectionRate     uint64
	IncomingPacketRate uint64
	OutgoingPacketRate uint64
	IncomingByteRate   uint64
	OutgoingByteRate   uint64
}

// Info is the kernel's IPVS version and connection table size.
type Info struct {
	Version             [3]int
	ConnectionTableSize uint32
}

// Config holds the connection timeouts, in seconds; in SetConfig a zero
// one is left unchanged.
type Config struct {
	TCPTimeout    uint32
	TCPFinTimeout uint32
	UDPTimeout    uint32
}

// ForwardType is how packets reach a destination.
type ForwardType uint32

// Possible ForwardType values.
const (
	Masquerade ForwardType = iota
	Local
	Tunnel
	DirectRoute
	Bypass
)

// Masquarade is Masquerade, misspelt.
//
// Deprecated: use Masquerade.
const Masquarade = Masquerade

// AddressFamily is the address family of a service or destination.
type AddressFamily uint16

// Possible AddressFamily values.
const (
	INET  AddressFamily = 0x2
	INET6 AddressFamily = 0xA
)

// Protocol is the transport protocol of a service.
type Protocol uint16

// Possible Protocol values.
const (
	TCP  Protocol = 0x06
	UDP  Protocol = 0x11
	SCTP Protocol = 0x84
)

// Flags are a service's flags; all are replaced on create and update.
type Flags uint32

// Possible Flags bits.
const (
	ServicePersistent    Flags = 0x0001
	ServiceHashed        Flags = 0x0002
	ServiceOnePacket     Flags = 0x0004
	ServiceSchedulerOpt1 Flags = 0x0008
	ServiceSchedulerOpt2 Flags = 0x0010
	ServiceSchedulerOpt3 Flags = 0x0020
)

var flagNames = []string{"ServicePersistent", "ServiceHashed", "ServiceOnePacket",
	"ServiceSchedulerOpt1", "ServiceSchedulerOpt2", "ServiceSchedulerOpt3"}

// String joins the names of the set flags with " | ", unknown bits in
// hex last; "" for none.
func (i Flags) String() string {
	var parts []string
	for bit, name := range flagNames {
		if i&(1<<bit) != 0 {
			parts = append(parts, name)
		}
	}
	if rest := i &^ (1<<len(flagNames) - 1); rest != 0 {
		parts = append(parts, fmt.Sprintf("%#x", uint32(rest)))
	}
	return strings.Join(parts, " | ")
}

// TunnelType is the encapsulation of a tunnel destination.
type TunnelType uint8

// Possible TunnelType values.
const (
	IPIP TunnelType = iota
	GUE
	GRE
)

// TunnelFlags are the checksum options of a GUE or GRE tunnel.
type TunnelFlags uint16

// Possible TunnelFlags values.
const (
	TunnelEncapNoChecksum     TunnelFlags = 0
	TunnelEncapChecksum       TunnelFlags = 0x0001
	TunnelEncapRemoteChecksum TunnelFlags = 0x0002
)

// Names of the enums' values, for their String methods.
var (
	forwardNames = map[uint64]string{0: "Masquerade", 1: "Local", 2: "Tunnel", 3: "DirectRoute", 4: "Bypass"}
	familyNames  = map[uint64]string{2: "INET", 10: "INET6"}
	protoNames   = map[uint64]string{6: "TCP", 17: "UDP", 132: "SCTP"}
	tunnelNames  = map[uint64]string{0: "IPIP", 1: "GUE", 2: "GRE"}
	tunFlagNames = map[uint64]string{0: "TunnelEncapNoChecksum", 1: "TunnelEncapChecksum", 2: "TunnelEncapRemoteChecksum"}
)

// name returns names[v], or "Type(v)" for a value without a name, as
// cloudflare/ipvs's generated String methods do.
func name(typ string, v uint64, names map[uint64]string) string {
	if s, ok := names[v]; ok {
		return s
	}
	return typ + "(" + strconv.FormatUint(v, 10) + ")"
}

// String returns the method's name, such as "Masquerade".
func (i ForwardType) String() string { return name("ForwardType", uint64(i), forwardNames) }

// String returns "INET" or "INET6".
func (i AddressFamily) String() string { return name("AddressFamily", uint64(i), familyNames) }

// String returns "TCP", "UDP" or "SCTP".
func (i Protocol) String() string { return name("Protocol", uint64(i), protoNames) }

// String returns "IPIP", "GUE" or "GRE".
func (i TunnelType) String() string { return name("TunnelType", uint64(i), tunnelNames) }

// String returns the flag's name, such as "TunnelEncapChecksum".
func (i TunnelFlags) String() string { return name("TunnelFlags", uint64(i), tunFlagNames) }
