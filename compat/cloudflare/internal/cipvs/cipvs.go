// Package cipvs holds the constants of the kernel's IPVS Generic Netlink
// family under the names cloudflare/ipvs gives them (the uapi header's,
// without the IPVS_ prefix, in camel case), because cloudflare/ipvs's own
// tests, which run against this module, refer to them. This module's code
// does not use them: the library speaks the protocol.
package cipvs

// The family.
const (
	GenlName    = "IPVS"
	GenlVersion = 0x1
)

// Commands (IPVS_CMD_*).
const (
	CmdUnspec     = 0
	CmdNewService = 1
	CmdSetService = 2
	CmdDelService = 3
	CmdGetService = 4
	CmdNewDest    = 5
	CmdSetDest    = 6
	CmdDelDest    = 7
	CmdGetDest    = 8
	CmdNewDaemon  = 9
	CmdDelDaemon  = 10
	CmdGetDaemon  = 11
	CmdSetConfig  = 12
	CmdGetConfig  = 13
	CmdSetInfo    = 14
	CmdGetInfo    = 15
	CmdZero       = 16
	CmdFlush      = 17
)

// First-level attributes (IPVS_CMD_ATTR_*).
const (
	CmdAttrService       = 1
	CmdAttrDest          = 2
	CmdAttrDaemon        = 3
	CmdAttrTimeoutTcp    = 4
	CmdAttrTimeoutTcpFin = 5
	CmdAttrTimeoutUdp    = 6
)

// Service attributes (IPVS_SVC_ATTR_*).
const (
	SvcAttrAf        = 1
	SvcAttrProtocol  = 2
	SvcAttrAddr      = 3
	SvcAttrPort      = 4
	SvcAttrFwmark    = 5
	SvcAttrSchedName = 6
	SvcAttrFlags     = 7
	SvcAttrTimeout   = 8
	SvcAttrNetmask   = 9
	SvcAttrStats     = 10
	SvcAttrPeName    = 11
	SvcAttrStats64   = 12
)

// Destination attributes (IPVS_DEST_ATTR_*).
const (
	DestAttrAddr         = 1
	DestAttrPort         = 2
	DestAttrFwdMethod    = 3
	DestAttrWeight       = 4
	DestAttrUThresh      = 5
	DestAttrLThresh      = 6
	DestAttrActiveConns  = 7
	DestAttrInactConns   = 8
	DestAttrPersistConns = 9
	DestAttrStats        = 10
	DestAttrAddrFamily   = 11
	DestAttrStats64      = 12
	DestAttrTunType      = 13
	DestAttrTunPort      = 14
	DestAttrTunFlags     = 15
)

// Sync daemon attributes (IPVS_DAEMON_ATTR_*).
const (
	DaemonAttrState       = 1
	DaemonAttrMcastIfn    = 2
	DaemonAttrSyncId      = 3
	DaemonAttrSyncMaxlen  = 4
	DaemonAttrMcastGroup  = 5
	DaemonAttrMcastGroup6 = 6
	DaemonAttrMcastPort   = 7
	DaemonAttrMcastTtl    = 8
)

// Statistics attributes (IPVS_STATS_ATTR_*).
const (
	StatsAttrConns    = 1
	StatsAttrInpkts   = 2
	StatsAttrOutpkts  = 3
	StatsAttrInbytes  = 4
	StatsAttrOutbytes = 5
	StatsAttrCps      = 6
	StatsAttrInpps    = 7
	StatsAttrOutpps   = 8
	StatsAttrInbps    = 9
	StatsAttrOutbps   = 10
	StatsAttrPad      = 11
)

// Info attributes (IPVS_INFO_ATTR_*).
const (
	InfoAttrVersion     = 1
	InfoAttrConnTabSize = 2
)
