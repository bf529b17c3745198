package keepalived

import (
	"net/netip"
	"time"
)

// Config is the LVS half of a keepalived configuration as keepalived
// reads it: what each virtual server, real server and checker says, with
// where it says it. Values left out are nil or zero; Resolve applies
// keepalived's defaults and inheritance.
type Config struct {
	// Files are the files read: the configuration, then its includes in
	// the order they were read.
	Files []string
	// Groups are the virtual_server_group blocks, by name.
	Groups map[string]*Group
	// VirtualServers are the virtual_server blocks, in order.
	VirtualServers []*VirtualServer
	// SSL is the SSL block: the client certificate and CA of SSL_GET.
	SSL *SSL
	// Diagnostics are what the import found to say, in file order.
	Diagnostics Diagnostics
}

// Group is a virtual_server_group: addresses, ranges and firewall marks
// that share one definition of virtual server.
type Group struct {
	Pos     Pos
	Name    string
	Entries []GroupEntry
}

// GroupEntry is one line of a virtual_server_group: an address or range
// of addresses with an optional port, or a firewall mark.
type GroupEntry struct {
	Pos Pos
	// First and Last bound a range; Last equals First for one address.
	First, Last netip.Addr
	Port        uint16
	// FWMark is set for a "fwmark N" entry, with its Family if given.
	FWMark uint32
	Family string
}

// Forwarding is lvs_method (or lb_kind) with its tunnel options.
type Forwarding struct {
	Pos            Pos
	Method         string // NAT, DR or TUN
	TunnelType     string // ipip, gue or gre
	TunnelPort     uint16
	TunnelChecksum string // nocsum, csum or remcsum
}

// Timing is the checker timing keywords a virtual server, real server or
// checker sets; nil is not set there.
type Timing struct {
	DelayLoop        *time.Duration
	ConnectTimeout   *time.Duration
	DelayBeforeRetry *time.Duration
	Warmup           *time.Duration
	Retry            *uint32
}

// Script is a command keepalived runs: a quorum or notify hook, or a
// MISC_CHECK's misc_path.
type Script struct {
	Pos Pos
	// Args are the program and its arguments, split as keepalived
	// splits them.
	Args []string
	// User and Group are who runs it, if given.
	User, Group string
}

// VirtualServer is a virtual_server block.
type VirtualServer struct {
	Pos Pos
	// The service: an address and port, a firewall mark, or a group.
	Address netip.Addr
	Port    uint16
	FWMark  uint32
	Group   string

	Family                 string // ip_family: inet or inet6
	Protocol               string // TCP, UDP or SCTP
	Scheduler              string // lvs_sched or lb_algo
	SchedulerFlags         []string
	OnePacket              bool
	Forwarding             *Forwarding
	PersistenceTimeout     *uint32 // seconds; set means persistent
	PersistenceGranularity string
	PersistenceEngine      string
	HASuspend              bool
	VirtualHost            string
	Alpha                  bool
	Omega                  bool
	Quorum                 *uint32
	Hysteresis             *uint32
	QuorumUp, QuorumDown   *Script
	SorryServer            *SorryServer
	InhibitOnFailure       bool
	// Weight is the default weight of its real servers.
	Weight      *uint32
	Timing      Timing
	RealServers []*RealServer
}

// SorryServer is a virtual server's sorry_server, with
// sorry_server_inhibit and sorry_server_lvs_method.
type SorryServer struct {
	Pos        Pos
	Address    netip.Addr
	Port       uint16
	Inhibit    bool
	Forwarding *Forwarding
}

// RealServer is a real_server block.
type RealServer struct {
	Pos                    Pos
	Address                netip.Addr
	Port                   uint16
	Weight                 *uint32
	Forwarding             *Forwarding
	UThreshold, LThreshold uint32
	NotifyUp, NotifyDown   *Script
	InhibitOnFailure       *bool
	Alpha                  *bool
	VirtualHost            string
	Timing                 Timing
	Checkers               []*Checker
}

// Checker kinds, as keepalived names their blocks.
const (
	TCPCheck  = "TCP_CHECK"
	HTTPGet   = "HTTP_GET"
	SSLGet    = "SSL_GET"
	MiscCheck = "MISC_CHECK"
	DNSCheck  = "DNS_CHECK"
	UDPCheck  = "UDP_CHECK"
)

// Checker is a health checker of a real server. Kind says which, and
// which of the other fields apply.
type Checker struct {
	Pos  Pos
	Kind string

	// Connection options of every kind but MISC_CHECK.
	ConnectIP   netip.Addr
	ConnectPort uint16
	BindTo      netip.Addr
	BindPort    uint16
	BindIf      string
	FWMark      uint32

	Alpha  *bool
	Timing Timing

	// HTTP_GET and SSL_GET.
	URLs         []*URL
	VirtualHost  string
	HTTPProtocol string
	EnableSNI    bool
	FastRecovery *bool

	// DNS_CHECK.
	QueryType, QueryName string

	// UDP_CHECK.
	Payload                        string
	RequireReply                   *string
	MinReplyLength, MaxReplyLength *int

	// MISC_CHECK.
	Path        *Script
	MiscTimeout *time.Duration
	Dynamic     bool
}

// StatusRange is a range of HTTP status codes, both ends included.
type StatusRange struct{ Low, High int }

// URL is a url block of an HTTP_GET or SSL_GET.
type URL struct {
	Pos          Pos
	Path         string
	Digest       string
	StatusCodes  []StatusRange
	VirtualHost  string
	Regex        string
	RegexNoMatch bool
}

// SSL is the SSL block, which every SSL_GET shares.
type SSL struct {
	Pos                            Pos
	Password, CA, Certificate, Key string
}
