package config

import (
	"net/netip"
	"regexp"
	"time"
)

// Probe is a check with every default applied: what to probe, how, and
// when. Two real servers whose probes are equal share one probe.
type Probe struct {
	// Type is tcp, http, https, udp, dns or exec.
	Type   string
	Target netip.AddrPort
	// Source is the address to send from, if set (bindto).
	Source netip.Addr

	Interval   time.Duration
	Timeout    time.Duration
	Rise, Fall int
	RetryDelay time.Duration
	Warmup     time.Duration

	HTTP *HTTPProbe
	UDP  *UDPProbe
	DNS  *DNSProbe
	Exec *ExecProbe
}

// HTTPProbe is what an http or https probe asks and accepts.
type HTTPProbe struct {
	Path   string
	Host   string // the Host header; "" for the target's address
	Status StatusCodes
	// Digest is the MD5 or SHA-256 of the body that passes, or nil.
	Digest       []byte
	Regex        *regexp.Regexp
	RegexNoMatch bool
	// TLS settings, for https.
	ServerName         string
	InsecureSkipVerify bool
	CA                 string
	Certificate, Key   string
}

// UDPProbe is what a udp probe sends and expects.
type UDPProbe struct {
	Payload []byte
	// Reply, if not nil, is the start of the reply that passes; a false
	// entry of Mask means any value of that half byte. A nil Reply waits
	// for no reply: only an ICMP unreachable fails.
	Reply, Mask []byte
	// WantReply is whether a reply is needed at all.
	WantReply bool
}

// DNSProbe is what a dns probe asks.
type DNSProbe struct {
	Name string
	Type uint16 // the query type's number, such as 6 for SOA
}

// ExecProbe is the program an exec probe runs.
type ExecProbe struct {
	Argv []string
	// Dynamic makes the exit status set the weight (misc_dynamic).
	Dynamic bool
}
