package check

import (
	"net/netip"
	"time"
)

// Kind names what a check probes.
type Kind string

// Possible Kind values.
const (
	// KindTCP connects and closes (keepalived's TCP_CHECK).
	KindTCP Kind = "tcp"
	// KindHTTP sends a GET and judges the status and the body (HTTP_GET).
	KindHTTP Kind = "http"
	// KindHTTPS is KindHTTP over TLS (SSL_GET).
	KindHTTPS Kind = "https"
	// KindUDP sends a datagram and judges the reply, or the absence of an
	// ICMP port unreachable (UDP_CHECK).
	KindUDP Kind = "udp"
	// KindDNS sends a query over UDP and judges the response (DNS_CHECK).
	KindDNS Kind = "dns"
	// KindExec runs a command and judges its exit code (MISC_CHECK).
	KindExec Kind = "exec"
)

// Defaults for the zero values of a Definition's timing fields.
const (
	DefaultInterval   = 5 * time.Second
	DefaultTimeout    = 3 * time.Second
	DefaultRetryDelay = time.Second
	// DefaultMaxBody is how much of an HTTP body is read for a regex or a
	// digest when HTTPCheck.MaxBody is zero.
	DefaultMaxBody = 1 << 20
	// DefaultMaxOutput is how much of a command's output is kept for the
	// result's error text when ExecCheck.MaxOutput is zero.
	DefaultMaxOutput = 4 << 10
)

// A Definition says what one check probes and on what schedule. Two
// definitions with the same Key are one check: the Scheduler probes it
// once for all who share it. Only the options of the definition's Kind
// may be set; Validate says which field is wrong otherwise.
type Definition struct {
	// Kind is what is probed.
	Kind Kind
	// Target is the address and port probed (keepalived's connect_ip and
	// connect_port). An exec check may leave it zero; if set, the command
	// finds it in its environment (see ExecCheck).
	Target netip.AddrPort
	// Source is the local address probes leave from (bindto); the zero
	// Addr lets the kernel choose.
	Source netip.Addr
	// Mark is the firewall mark (SO_MARK) set on the probe's socket
	// (keepalived's fwmark), to route probes through a virtual address;
	// zero sets none. Setting one needs CAP_NET_ADMIN.
	Mark uint32

	// Interval is the time from the start of one round to the start of
	// the next (delay_loop); zero means DefaultInterval.
	Interval time.Duration
	// Timeout bounds each attempt (connect_timeout, misc_timeout); zero
	// means DefaultTimeout.
	Timeout time.Duration
	// Rise is how many successful rounds in a row bring a down check up;
	// zero means 1.
	Rise int
	// Fall is how many failed rounds in a row take an up check down;
	// zero means 1.
	Fall int
	// Retry is how many more attempts a failed attempt gets within its
	// round while the check is not down (retry).
	Retry int
	// RetryDelay is the pause before each retry (delay_before_retry);
	// zero means DefaultRetryDelay.
	RetryDelay time.Duration
	// Warmup bounds the delay before the first round (warmup); zero
	// starts at once.
	Warmup time.Duration

	// HTTP holds the options of KindHTTP and KindHTTPS.
	HTTP HTTPCheck
	// UDP holds the options of KindUDP.
	UDP UDPCheck
	// DNS holds the options of KindDNS.
	DNS DNSCheck
	// Exec holds the options of KindExec.
	Exec ExecCheck
}

// HTTPCheck is what an HTTP or HTTPS check asks and expects. The GET is
// HTTP/1.1 with "Connection: close" on a new connection each time.
type HTTPCheck struct {
	// Path is the request's path and query; empty means "/".
	Path string
	// Host is the Host header (keepalived's virtualhost); empty means the
	// target's address.
	Host string
	// Status lists the status codes that pass; empty means 200–299.
	Status []StatusRange
	// Regex, if set, must match the body (RE2 syntax; keepalived's regex).
	Regex string
	// RegexNoMatch fails the check when Regex matches instead
	// (regex_no_match).
	RegexNoMatch bool
	// Digest, if set, is the hexadecimal MD5 (32 digits, as keepalived's
	// genhash prints) or SHA-256 (64 digits) the whole body must have.
	Digest string
	// MaxBody bounds the bytes of body read for Regex and Digest; zero
	// means DefaultMaxBody. A body longer than MaxBody fails a Digest
	// check; a Regex is matched against its first MaxBody bytes.
	MaxBody int64
	// TLS configures KindHTTPS.
	TLS TLSOptions
}

// StatusRange is an inclusive range of HTTP status codes; {200, 200} is
// the single code 200.
type StatusRange struct {
	Min, Max int
}

// TLSOptions configures an HTTPS check's TLS client.
type TLSOptions struct {
	// ServerName is sent as SNI and verified against the certificate;
	// empty means HTTPCheck.Host if it is a name, else no SNI and the
	// certificate verified against the target's address.
	ServerName string
	// SkipVerify accepts any certificate, as keepalived's SSL_GET does by
	// default.
	SkipVerify bool
	// CAFile is a PEM file of the certificate authorities to trust; empty
	// means the system's.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key,
	// both or neither.
	CertFile, KeyFile string
}

// UDPCheck is what a UDP check sends and expects. Without RequireReply a
// check fails only when an ICMP port unreachable comes back (the
// connected socket's read fails with ECONNREFUSED) or the send fails; no
// answer within the timeout passes.
type UDPCheck struct {
	// Send is the datagram's payload (keepalived's payload); it may be
	// empty.
	Send []byte
	// RequireReply fails the check unless a reply comes within the
	// timeout (require_reply).
	RequireReply bool
	// Expect, with RequireReply, is what the reply must hold: its first
	// min(len(reply), len(Expect)) bytes must equal Expect's under
	// ExpectMask.
	Expect []byte
	// ExpectMask, if set, has Expect's length; only the bits set in it
	// are compared (keepalived's X digits).
	ExpectMask []byte
	// MinReply and MaxReply bound the reply's length with RequireReply
	// (min_reply_length, max_reply_length); a zero MaxReply sets no
	// upper bound.
	MinReply, MaxReply int
}

// DNSCheck is the query a DNS check sends and what the response must
// hold. The response must answer the query (same ID and question).
type DNSCheck struct {
	// Name is the name queried; empty means "." (keepalived's default).
	Name string
	// Type is the record type queried: A, AAAA, NS, CNAME, SOA, MX, TXT,
	// PTR or SRV; empty means SOA (keepalived's default).
	Type string
	// RCode is the response code that passes, by name (NOERROR,
	// NXDOMAIN, …); empty means NOERROR.
	RCode string
	// Answer, if set, must equal the data of one answer record of Type:
	// an address for A and AAAA, a name for NS, CNAME, PTR, MX (the
	// exchange) and SRV (the target), the text for TXT (strings joined),
	// the primary server for SOA. Names compare without the final dot,
	// case-insensitively.
	Answer string
}

// ExecCheck is the command an exec check runs. It runs in a process
// group of its own, killed whole when the timeout ends the attempt. The
// environment adds IPVSD_CHECK_ADDRESS and IPVSD_CHECK_PORT when the
// definition has a Target.
type ExecCheck struct {
	// Command is the program and its arguments; the program is an
	// absolute path or found in PATH when the check is set.
	Command []string
	// Dynamic reads the exit code as keepalived's misc_dynamic does: 0
	// passes, 1 fails, 2–255 pass with the weight set to the code less
	// two. Otherwise 0 passes and anything else fails.
	Dynamic bool
	// MaxOutput bounds the output (stdout and stderr together) kept for
	// the error text; zero means DefaultMaxOutput.
	MaxOutput int
	// User, if set, is the user the command runs as, by name or number
	// (keepalived's user); Group, if set, its group, else the user's.
	// Switching needs CAP_SETUID and CAP_SETGID.
	User, Group string
}
