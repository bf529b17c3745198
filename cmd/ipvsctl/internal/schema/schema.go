// Package schema is ipvsctl's structured form of an IPVS table, the one
// schema of its JSON and YAML listings and of the files "ipvsctl apply"
// reads. Field names follow the library's types (lower camel case);
// enumerations are the library's String names; durations are whole
// seconds.
package schema

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
)

// Table is a whole listing, or a desired table. Each listing fills the
// fields it shows.
type Table struct {
	Info        *Info        `json:"info,omitempty"`
	Services    []Service    `json:"services,omitempty"`
	Timeouts    *Timeouts    `json:"timeouts,omitempty"`
	Daemons     []Daemon     `json:"daemons,omitempty"`
	Connections []Connection `json:"connections,omitempty"`
}

// Info is ipvs.Info.
type Info struct {
	Version             string `json:"version"`
	ConnectionTableSize uint32 `json:"connectionTableSize"`
}

// Service is ipvs.Service with its destinations (ipvs.VirtualServer).
type Service struct {
	Family            string        `json:"family"`
	Protocol          string        `json:"protocol,omitempty"`
	Address           string        `json:"address,omitempty"`
	Port              uint16        `json:"port,omitempty"`
	FWMark            uint32        `json:"fwMark,omitempty"`
	Scheduler         string        `json:"scheduler"`
	PersistenceEngine string        `json:"persistenceEngine,omitempty"`
	Flags             []string      `json:"flags,omitempty"`
	Timeout           uint32        `json:"timeout,omitempty"`
	Netmask           string        `json:"netmask,omitempty"`
	Stats             *Stats        `json:"stats,omitempty"`
	Destinations      []Destination `json:"destinations"`
	// Line is where Decode read the service, for errors; 0 if not read.
	Line int `json:"-"`
}

// Destination is ipvs.Destination.
type Destination struct {
	Address               string `json:"address"`
	Port                  uint16 `json:"port"`
	Forward               string `json:"forward"`
	Weight                uint32 `json:"weight"`
	UpperThreshold        uint32 `json:"upperThreshold,omitempty"`
	LowerThreshold        uint32 `json:"lowerThreshold,omitempty"`
	TunnelType            string `json:"tunnelType,omitempty"`
	TunnelPort            uint16 `json:"tunnelPort,omitempty"`
	TunnelFlags           string `json:"tunnelFlags,omitempty"`
	ActiveConnections     uint32 `json:"activeConnections"`
	InactiveConnections   uint32 `json:"inactiveConnections"`
	PersistentConnections uint32 `json:"persistentConnections"`
	Stats                 *Stats `json:"stats,omitempty"`
	// Line is where Decode read the destination, for errors.
	Line int `json:"-"`
}

// Stats is ipvs.Stats.
type Stats struct {
	Connections    uint64 `json:"connections"`
	InPackets      uint64 `json:"inPackets"`
	OutPackets     uint64 `json:"outPackets"`
	InBytes        uint64 `json:"inBytes"`
	OutBytes       uint64 `json:"outBytes"`
	ConnectionRate uint64 `json:"connectionRate"`
	InPacketRate   uint64 `json:"inPacketRate"`
	OutPacketRate  uint64 `json:"outPacketRate"`
	InByteRate     uint64 `json:"inByteRate"`
	OutByteRate    uint64 `json:"outByteRate"`
}

// Timeouts is ipvs.Timeouts, in seconds.
type Timeouts struct {
	TCP    uint32 `json:"tcp"`
	TCPFin uint32 `json:"tcpFin"`
	UDP    uint32 `json:"udp"`
}

// Daemon is ipvs.Daemon.
type Daemon struct {
	State     string `json:"state"`
	Interface string `json:"interface"`
	SyncID    uint32 `json:"syncID"`
	MaxLength uint16 `json:"maxLength,omitempty"`
	Group     string `json:"group,omitempty"`
	Port      uint16 `json:"port,omitempty"`
	TTL       uint8  `json:"ttl,omitempty"`
	// Line is where Decode read the daemon, for errors.
	Line int `json:"-"`
}

// Connection is an entry of the connection table (ipvs.Connection).
type Connection struct {
	Protocol          string `json:"protocol"`
	Client            string `json:"client"`
	Virtual           string `json:"virtual"`
	Destination       string `json:"destination"`
	State             string `json:"state"`
	Expires           uint64 `json:"expires"`
	PersistenceEngine string `json:"persistenceEngine,omitempty"`
	PEData            string `json:"peData,omitempty"`
	Synced            bool   `json:"synced,omitempty"`
}

func secs(d time.Duration) uint32 { return uint32(d / time.Second) }

func stats(s ipvs.Stats) *Stats {
	return &Stats{s.Connections, s.InPackets, s.OutPackets, s.InBytes, s.OutBytes,
		s.ConnectionRate, s.InPacketRate, s.OutPacketRate, s.InByteRate, s.OutByteRate}
}

// FromInfo converts the kernel's info.
func FromInfo(i ipvs.Info) *Info {
	return &Info{Version: i.Version.String(), ConnectionTableSize: i.ConnectionTableSize}
}

// FromTimeouts converts timeouts.
func FromTimeouts(t ipvs.Timeouts) *Timeouts {
	return &Timeouts{TCP: secs(t.TCP), TCPFin: secs(t.TCPFin), UDP: secs(t.UDP)}
}

// FromDaemons converts daemons.
func FromDaemons(ds []ipvs.Daemon) []Daemon {
	out := make([]Daemon, 0, len(ds))
	for _, d := range ds {
		g := ""
		if d.Group.IsValid() {
			g = d.Group.String()
		}
		out = append(out, Daemon{State: d.State.String(), Interface: d.Interface, SyncID: d.SyncID,
			MaxLength: d.MaxLength, Group: g, Port: d.Port, TTL: d.TTL})
	}
	return out
}

func family(f ipvs.Family, a netip.Addr) ipvs.Family {
	if f == 0 && a.IsValid() {
		if a.Is4() {
			return ipvs.FamilyIPv4
		}
		return ipvs.FamilyIPv6
	}
	return f
}

// flagNames lists the library's names of the set flags.
func flagNames(f ipvs.ServiceFlags) []string {
	if f == 0 {
		return nil
	}
	return strings.Split(f.String(), "|")
}

// FromServices converts services with their destinations.
func FromServices(vs []ipvs.VirtualServer) []Service {
	out := make([]Service, 0, len(vs))
	for i := range vs {
		out = append(out, FromService(&vs[i]))
	}
	return out
}

// FromService converts one service with its destinations.
func FromService(v *ipvs.VirtualServer) Service {
	s := &v.Service
	f := family(s.Family, s.Address)
	out := Service{Family: f.String(), FWMark: s.FWMark, Scheduler: s.Scheduler,
		PersistenceEngine: s.PersistenceEngine, Flags: flagNames(s.Flags), Timeout: secs(s.Timeout),
		Stats: stats(s.Stats), Destinations: []Destination{}}
	if s.FWMark == 0 {
		out.Protocol, out.Address, out.Port = s.Protocol.String(), s.Address.String(), s.Port
	}
	if s.Netmask != (ipvs.Netmask{}) {
		out.Netmask = maskString(f, s.Netmask)
	}
	for _, d := range v.Destinations {
		od := Destination{Address: d.Address.String(), Port: d.Port, Forward: d.Forward.String(),
			Weight: d.Weight, UpperThreshold: d.UpperThreshold, LowerThreshold: d.LowerThreshold,
			ActiveConnections: d.ActiveConnections, InactiveConnections: d.InactiveConnections,
			PersistentConnections: d.PersistentConnections, Stats: stats(d.Stats)}
		if d.Forward == ipvs.ForwardTunnel {
			od.TunnelType, od.TunnelPort, od.TunnelFlags = d.TunnelType.String(), d.TunnelPort, d.TunnelFlags.String()
		}
		out.Destinations = append(out.Destinations, od)
	}
	return out
}

// lookup finds name among the String names of values.
func lookup[T fmt.Stringer](field, name string, values ...T) (T, error) {
	for _, v := range values {
		if v.String() == name {
			return v, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("invalid %s %q", field, name)
}

// maskString writes a netmask in address form: "255.255.255.0" for IPv4,
// "ffff:ffff:ffff:ffff::" for an IPv6 prefix length of 64.
func maskString(f ipvs.Family, m ipvs.Netmask) string {
	if f == ipvs.FamilyIPv6 {
		var b [16]byte
		for i := 0; i < m.Bits(f) && i < 128; i++ {
			b[i/8] |= 0x80 >> (i % 8)
		}
		return netip.AddrFrom16(b).String()
	}
	return netip.AddrFrom4(m.IPv4Mask()).String()
}

// parseMask reads a netmask in address form.
func parseMask(f ipvs.Family, s string) (ipvs.Netmask, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || (f == ipvs.FamilyIPv6) != a.Is6() {
		return ipvs.Netmask{}, fmt.Errorf("invalid netmask %q", s)
	}
	if a.Is4() {
		return ipvs.IPv4Mask(a.As4()), nil
	}
	b := a.As16()
	n := 0
	for n < 128 && b[n/8]&(0x80>>(n%8)) != 0 {
		n++
	}
	for i := n; i < 128; i++ {
		if b[i/8]&(0x80>>(i%8)) != 0 {
			return ipvs.Netmask{}, fmt.Errorf("invalid netmask %q: an IPv6 mask must be a prefix", s)
		}
	}
	if n == 128 {
		return ipvs.Netmask{}, nil
	}
	return ipvs.PrefixMask(n), nil
}

// FromConnection converts an entry of the connection table; proto is the
// kernel's name of its protocol.
func FromConnection(c *ipvs.Connection, proto string) Connection {
	return Connection{Protocol: proto, Client: c.Client.String(), Virtual: c.Virtual.String(),
		Destination: c.Destination.String(), State: c.State, Expires: uint64(c.Expires / time.Second),
		PersistenceEngine: c.PersistenceEngine, PEData: c.PEData, Synced: c.Synced}
}
