package ipvs

// Forwarding methods, as Destination.ConnectionFlags holds them (the
// kernel's IP_VS_CONN_F_* values).
const (
	// ConnectionFlagFwdMask is the part of ConnectionFlags that holds the
	// forwarding method; the rest is not sent.
	ConnectionFlagFwdMask = 0x0007

	// ConnectionFlagMasq forwards by masquerading (NAT).
	ConnectionFlagMasq = 0x0000

	// ConnectionFlagLocalNode delivers to the local host.
	ConnectionFlagLocalNode = 0x0001

	// ConnectionFlagTunnel forwards through an IP-in-IP tunnel.
	ConnectionFlagTunnel = 0x0002

	// ConnectionFlagDirectRoute forwards by direct routing.
	ConnectionFlagDirectRoute = 0x0003
)

// Scheduler names for Service.SchedName; the kernel knows more (mh, sed,
// nq, lblc, ...), which may be named as strings.
const (
	// RoundRobin hands new connections to the destinations in turn.
	RoundRobin = "rr"

	// LeastConnection picks the destination with the fewest active
	// connections.
	LeastConnection = "lc"

	// DestinationHashing picks a destination by a hash of the packet's
	// destination address.
	DestinationHashing = "dh"

	// SourceHashing picks a destination by a hash of the packet's source
	// address.
	SourceHashing = "sh"

	// WeightedRoundRobin hands new connections out in turn, in proportion
	// to the destinations' weights.
	WeightedRoundRobin = "wrr"

	// WeightedLeastConnection picks the destination with the fewest
	// connections relative to its weight.
	WeightedLeastConnection = "wlc"
)

// The same forwarding methods under their other names, plus bypass.
const (
	// ConnFwdMask is ConnectionFlagFwdMask.
	ConnFwdMask = 0x0007

	// ConnFwdMasq is ConnectionFlagMasq: NAT.
	ConnFwdMasq = 0x0000

	// ConnFwdLocalNode is ConnectionFlagLocalNode.
	ConnFwdLocalNode = 0x0001

	// ConnFwdTunnel is ConnectionFlagTunnel.
	ConnFwdTunnel = 0x0002

	// ConnFwdDirectRoute is ConnectionFlagDirectRoute.
	ConnFwdDirectRoute = 0x0003

	// ConnFwdBypass sends packets on unchanged.
	ConnFwdBypass = 0x0004
)
