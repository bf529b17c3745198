package config

import "github.com/ipvs-go/ipvs"

// File is an ipvsd configuration file: the settings of the director
// that reads it, and its virtual servers.
type File struct {
	Director Director `yaml:"director,omitempty"`
	// VirtualServers are the services the director owns: it writes
	// these and no other service of the table.
	VirtualServers []VirtualServer `yaml:"virtual_servers"`
}

// Director holds the settings of the daemon, as opposed to those of a
// virtual server.
type Director struct {
	// Node is this director's name, which a virtual server's nodes
	// match; the default is the host name.
	Node string `yaml:"node,omitempty"`
	// Labels are this director's labels, which a virtual server's
	// node_selector matches.
	Labels map[string]string `yaml:"labels,omitempty"`
	// SyncInterval is how often the table is read and repaired, and the
	// least time between two writes to it. Default 5s.
	SyncInterval *Duration `yaml:"sync_interval,omitempty"`
	// DrainTimeout ends a drain even with connections left, this long
	// after the real server went to weight 0; 0 (the default) waits for
	// its connections to end.
	DrainTimeout *Duration `yaml:"drain_timeout,omitempty"`
	// HookTimeout is how long a hook (quorum_up, quorum_down, notify_up,
	// notify_down) may run before its process group is killed. Default
	// 30s.
	HookTimeout *Duration `yaml:"hook_timeout,omitempty"`
}

// VirtualServer is one virtual service and its real servers. It is
// self-contained: nothing outside it changes what it means, so that it
// can be stored, moved and changed alone.
type VirtualServer struct {
	// Name identifies the virtual server in the API, the metrics and the
	// logs; it defaults to one made of its identity, such as
	// "tcp-192.0.2.10-80" or "fwmark-7-inet".
	Name string `yaml:"name,omitempty"`

	// Address, Port and Protocol identify a service, or FWMark and
	// Family do.
	Address string `yaml:"address,omitempty"`
	Port    uint16 `yaml:"port,omitempty"`
	// Protocol is TCP (the default), UDP or SCTP.
	Protocol string `yaml:"protocol,omitempty"`
	FWMark   uint32 `yaml:"fwmark,omitempty"`
	// Family is inet or inet6, for a fwmark service; the default is the
	// real servers' family, else inet.
	Family string `yaml:"ip_family,omitempty"`

	// Scheduler is the IPVS scheduler: rr, wrr, lc, wlc (the default),
	// lblc, lblcr, dh, sh, mh, sed, nq, fo, ovf, twos.
	Scheduler string `yaml:"lvs_sched,omitempty"`
	// SchedulerFlags are flag-1, flag-2, flag-3 or their names for the
	// sh and mh schedulers: sh-fallback, sh-port, mh-fallback, mh-port.
	SchedulerFlags []string `yaml:"sched_flags,omitempty"`
	// OnePacket schedules each UDP datagram on its own (ipvsadm -o).
	OnePacket bool `yaml:"ops,omitempty"`
	// Forwarding is the real servers' default forwarding method.
	Forwarding `yaml:",inline"`

	// PersistenceTimeout makes the service persistent: a client keeps
	// its real server this long after its last connection.
	PersistenceTimeout *Duration `yaml:"persistence_timeout,omitempty"`
	// PersistenceGranularity is the mask that groups clients for
	// persistence: an IPv4 mask such as 255.255.255.0, or a prefix
	// length such as 24 or 64.
	PersistenceGranularity string `yaml:"persistence_granularity,omitempty"`
	// PersistenceEngine is a persistence engine such as sip.
	PersistenceEngine string `yaml:"persistence_engine,omitempty"`

	// Nodes are the directors that apply this virtual server, by name;
	// empty means every director (that NodeSelector selects).
	Nodes []string `yaml:"nodes,omitempty"`
	// NodeSelector are labels a director must all have to apply this
	// virtual server.
	NodeSelector map[string]string `yaml:"node_selector,omitempty"`

	// Quorum is the least total weight of the live real servers for the
	// service to be up. Default 1.
	Quorum *uint32 `yaml:"quorum,omitempty"`
	// Hysteresis dampens quorum flaps: quorum is lost below Quorum -
	// Hysteresis and gained again at Quorum + Hysteresis.
	Hysteresis uint32 `yaml:"hysteresis,omitempty"`
	// QuorumUp and QuorumDown run when quorum is gained and lost.
	QuorumUp   *Command `yaml:"quorum_up,omitempty"`
	QuorumDown *Command `yaml:"quorum_down,omitempty"`
	// SorryServer replaces the real servers while quorum is lost.
	SorryServer *SorryServer `yaml:"sorry_server,omitempty"`

	// OnFailure is what becomes of a real server that fails its checks,
	// or is no longer configured: drain (weight 0 until its connections
	// end or the drain timeout, then removed; the default for TCP and
	// fwmark services), remove (at once; the default for UDP and SCTP,
	// whose flows never end by themselves), or inhibit (a failed real
	// server stays at weight 0; one no longer configured drains).
	OnFailure string `yaml:"on_failure,omitempty"`
	// InhibitOnFailure true is keepalived's way to say on_failure:
	// inhibit.
	InhibitOnFailure *bool `yaml:"inhibit_on_failure,omitempty"`
	// Alpha starts each real server as failed until its checks first
	// succeed; otherwise a real server is up until they first fail.
	Alpha bool `yaml:"alpha,omitempty"`
	// Omega takes the virtual server out of the table when the director
	// stops, running the down hooks; otherwise the table is left as it
	// is, so that a restart drops no connection.
	Omega bool `yaml:"omega,omitempty"`
	// VirtualHost is the default Host of the HTTP checks.
	VirtualHost string `yaml:"virtualhost,omitempty"`
	// Timing is the default timing of the real servers' checks.
	Timing `yaml:",inline"`
	// Checks are the default checks of the real servers.
	Checks Checks `yaml:"checks,omitempty"`

	RealServers []RealServer `yaml:"real_servers"`

	resolved *resolvedVS // set by validation
}

// Forwarding is a forwarding method with its tunnel settings.
type Forwarding struct {
	// Method is NAT (the default), DR or TUN.
	Method string `yaml:"lvs_method,omitempty"`
	// TunnelType is ipip (the default), gue or gre, for TUN.
	TunnelType string `yaml:"tunnel_type,omitempty"`
	// TunnelPort is the UDP port of a gue tunnel.
	TunnelPort uint16 `yaml:"tunnel_port,omitempty"`
	// TunnelChecksum is nocsum (the default), csum or remcsum, for gue
	// and gre tunnels.
	TunnelChecksum string `yaml:"tunnel_checksum,omitempty"`
}

// RealServer is a real server of a virtual server.
type RealServer struct {
	Address string `yaml:"address"`
	// Port defaults to the virtual server's; a fwmark service's real
	// servers need one.
	Port uint16 `yaml:"port,omitempty"`
	// Weight is the real server's share of new connections while it is
	// up. Default 1.
	Weight *uint32 `yaml:"weight,omitempty"`
	// Forwarding defaults to the virtual server's.
	Forwarding `yaml:",inline"`
	// UpperThreshold and LowerThreshold bound its connections: past the
	// upper it gets no new ones until below the lower; 0 is no bound.
	UpperThreshold uint32 `yaml:"uthreshold,omitempty"`
	LowerThreshold uint32 `yaml:"lthreshold,omitempty"`
	// NotifyUp and NotifyDown run when its checks pass and fail.
	NotifyUp   *Command `yaml:"notify_up,omitempty"`
	NotifyDown *Command `yaml:"notify_down,omitempty"`
	// VirtualHost, Alpha and Timing default to the virtual server's.
	VirtualHost string `yaml:"virtualhost,omitempty"`
	Alpha       *bool  `yaml:"alpha,omitempty"`
	Timing      `yaml:",inline"`
	// Checks replace the virtual server's checks for this real server;
	// an empty list means none: it is always up.
	Checks Checks `yaml:"checks,omitempty"`
}

// SorryServer is the server that takes the traffic while the virtual
// server has lost quorum.
type SorryServer struct {
	Address string `yaml:"address"`
	// Port defaults to the virtual server's.
	Port uint16 `yaml:"port,omitempty"`
	// Weight defaults to 1.
	Weight *uint32 `yaml:"weight,omitempty"`
	// Forwarding defaults to the virtual server's.
	Forwarding `yaml:",inline"`
}

// Timing is when a check runs and how many results change its state.
// Each field defaults to the real server's, then the virtual server's,
// then the value given here.
type Timing struct {
	// DelayLoop is the time from the start of one round of a check to
	// the next. Default 5s.
	DelayLoop *Duration `yaml:"delay_loop,omitempty"`
	// ConnectTimeout bounds each attempt. Default 3s.
	ConnectTimeout *Duration `yaml:"connect_timeout,omitempty"`
	// Retry is how many more attempts a failed check gets, each
	// DelayBeforeRetry after the last, before its round fails. Default 1.
	Retry *uint32 `yaml:"retry,omitempty"`
	// DelayBeforeRetry is the time between a failed attempt and its
	// retry. Default 1s.
	DelayBeforeRetry *Duration `yaml:"delay_before_retry,omitempty"`
	// Warmup bounds the delay before a check's first round, spread by
	// the check so that checks defined together do not all start at
	// once. Default DelayLoop.
	Warmup *Duration `yaml:"warmup,omitempty"`
	// Rise is how many passed rounds in a row bring a down real server
	// up. Default 1.
	Rise *uint32 `yaml:"rise,omitempty"`
	// Fall is how many failed rounds in a row take an up real server
	// down. Default 1.
	Fall *uint32 `yaml:"fall,omitempty"`
}

// Checks are a list of checks; a list given empty is kept apart from
// one not given.
type Checks []Check

// IsZero reports whether no list was given, so that an empty one is
// written back.
func (c Checks) IsZero() bool { return c == nil }

// Check is a health check of a real server. Type says which, and which
// of the other fields apply.
type Check struct {
	// Type is tcp, http, https, udp, dns or exec.
	Type string `yaml:"type"`
	// ConnectIP and ConnectPort are where the check goes; they default
	// to the real server's address and port.
	ConnectIP   string `yaml:"connect_ip,omitempty"`
	ConnectPort uint16 `yaml:"connect_port,omitempty"`
	// BindTo is the source address of the check's packets.
	BindTo string `yaml:"bindto,omitempty"`
	// FWMark marks the check's packets, to route them as a virtual
	// server's (needs CAP_NET_ADMIN).
	FWMark uint32 `yaml:"fwmark,omitempty"`
	Timing `yaml:",inline"`

	// Path is the path an http or https check GETs. Default "/".
	Path string `yaml:"path,omitempty"`
	// StatusCode are the statuses that pass, such as "200-299 404" or a
	// list of codes and ranges. Default 200-299.
	StatusCode StatusCodes `yaml:"status_code,omitempty"`
	// Digest is the MD5 (as keepalived's genhash prints it) or SHA-256
	// of the body that passes, in hex.
	Digest string `yaml:"digest,omitempty"`
	// Regex must match the body (or, with RegexNoMatch, must not).
	Regex        string `yaml:"regex,omitempty"`
	RegexNoMatch bool   `yaml:"regex_no_match,omitempty"`
	// VirtualHost is the Host header; it defaults to the real server's.
	VirtualHost string `yaml:"virtualhost,omitempty"`
	// SNIName is the TLS server name sent and verified; it defaults to
	// VirtualHost, else the address.
	SNIName string `yaml:"sni_name,omitempty"`
	// InsecureSkipVerify accepts any certificate of the server.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty"`
	// CA is a file of the certificates that sign the server's; the
	// default is the system's.
	CA string `yaml:"ca,omitempty"`
	// Certificate and Key are files of a client certificate to present.
	Certificate string `yaml:"certificate,omitempty"`
	Key         string `yaml:"key,omitempty"`

	// Payload is what a udp check sends, in hex; default a few random
	// bytes.
	Payload string `yaml:"payload,omitempty"`
	// RequireReply makes a udp check wait for a reply that starts with
	// these bytes in hex (x for a digit that may be anything); "" takes
	// any reply. Without it, only an ICMP unreachable fails the check.
	RequireReply *string `yaml:"require_reply,omitempty"`
	// MinReplyLength and MaxReplyLength bound the reply's length, with
	// RequireReply; a zero maximum is none.
	MinReplyLength int `yaml:"min_reply_length,omitempty"`
	MaxReplyLength int `yaml:"max_reply_length,omitempty"`

	// QueryName and QueryType are what a dns check asks: default "."
	// and SOA.
	QueryName string `yaml:"query_name,omitempty"`
	QueryType string `yaml:"query_type,omitempty"`
	// RCode is the response code that passes, such as NOERROR (the
	// default) or NXDOMAIN.
	RCode string `yaml:"rcode,omitempty"`
	// Answer, if set, must be the data of an answer of QueryType: an
	// address, a name, or a text.
	Answer string `yaml:"answer,omitempty"`

	// MiscPath is the program an exec check runs; exit status 0 passes.
	MiscPath *Command `yaml:"misc_path,omitempty"`
	// MiscTimeout bounds the program; its whole process group is killed
	// then. Default ConnectTimeout.
	MiscTimeout *Duration `yaml:"misc_timeout,omitempty"`
	// MiscDynamic makes the exit status set the weight, as keepalived's
	// misc_dynamic does: 0 passes with the configured weight, 1 fails,
	// and 2 to 255 pass with weight status - 2.
	MiscDynamic bool `yaml:"misc_dynamic,omitempty"`
	// User and Group run the program as another user (by name or
	// number) and group (default: the user's); the daemon then needs
	// CAP_SETUID and CAP_SETGID.
	User  string `yaml:"user,omitempty"`
	Group string `yaml:"group,omitempty"`
}

// resolvedVS is a virtual server with every default applied, made by
// validation.
type resolvedVS struct {
	service  ipvs.Service
	backends []Backend
	sorry    *ipvs.Destination
}
