package ipvs

import (
	"net"
	"time"
)

// Service is an IPVS virtual service: identified by Protocol, Address and
// Port, or by FWMark (with AddressFamily), and configured by the rest.
type Service struct {
	// Address, Protocol and Port identify a service without a firewall
	// mark; with one, they are not sent.
	Address  net.IP
	Protocol uint16
	Port     uint16
	// FWMark identifies a firewall-mark service; 0 for the others.
	FWMark uint32

	// SchedName is the scheduler, such as RoundRobin.
	SchedName string
	// Flags are the service's IP_VS_SVC_F_* flags; all are replaced.
	Flags uint32
	// Timeout is the persistence timeout in seconds.
	Timeout uint32
	// Netmask is the persistence granularity: for IPv4 the mask as a
	// host-order uint32 of its bytes in network order (0xFFFFFFFF for
	// /32), for IPv6 the prefix length (128).
	Netmask uint32
	// AddressFamily is syscall.AF_INET or syscall.AF_INET6.
	AddressFamily uint16
	// PEName is the persistence engine, such as "sip", or empty.
	PEName string
	// Stats are the service's counters, read-only.
	Stats SvcStats
}

// SvcStats are the counters and rate estimates of a service, with the
// kernel's 32-bit STATS widths: all but the byte counts wrap at 2^32.
type SvcStats struct {
	Connections uint32
	PacketsIn   uint32
	PacketsOut  uint32
	BytesIn     uint64
	BytesOut    uint64
	CPS         uint32
	BPSOut      uint32
	PPSIn       uint32
	PPSOut      uint32
	BPSIn       uint32
}

// Destination is a real server of a service, identified within it by
// Address and Port.
type Destination struct {
	Address net.IP
	Port    uint16
	// Weight is the share of new connections, 0 to 2^31-1; 0 takes the
	// destination out of rotation.
	Weight int
	// ConnectionFlags holds the forwarding method, such as
	// ConnectionFlagMasq; only its ConnectionFlagFwdMask bits are sent.
	ConnectionFlags uint32
	// AddressFamily is read back from the kernel; the family of Address
	// is what is sent.
	AddressFamily  uint16
	UpperThreshold uint32
	LowerThreshold uint32
	// ActiveConnections, InactiveConnections and Stats are read-only.
	ActiveConnections   int
	InactiveConnections int
	Stats               DstStats
}

// DstStats are the counters of a destination, as SvcStats are a
// service's.
type DstStats SvcStats

// Config holds the connection timeouts of a namespace. In SetConfig, a
// zero timeout leaves that one unchanged, and fractions of a second are
// dropped.
type Config struct {
	TimeoutTCP    time.Duration
	TimeoutTCPFin time.Duration
	TimeoutUDP    time.Duration
}
