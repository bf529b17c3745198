// Package ipvsh holds the constants of the kernel's IPVS Generic Netlink
// family, transcribed from include/uapi/linux/ip_vs.h of a current kernel.
//
// golang.org/x/sys/unix has none of them. Each constant names the C
// identifier it mirrors, so that it can be checked against the header.
// This package is internal-only: use package ipvs.
package ipvsh

// Family identity (IPVS_GENL_NAME, IPVS_GENL_VERSION).
const (
	GenlName    = "IPVS"
	GenlVersion = 0x1
)

// Commands (enum IPVS_CMD_*).
const (
	CmdUnspec     = 0  // IPVS_CMD_UNSPEC
	CmdNewService = 1  // IPVS_CMD_NEW_SERVICE
	CmdSetService = 2  // IPVS_CMD_SET_SERVICE
	CmdDelService = 3  // IPVS_CMD_DEL_SERVICE
	CmdGetService = 4  // IPVS_CMD_GET_SERVICE
	CmdNewDest    = 5  // IPVS_CMD_NEW_DEST
	CmdSetDest    = 6  // IPVS_CMD_SET_DEST
	CmdDelDest    = 7  // IPVS_CMD_DEL_DEST
	CmdGetDest    = 8  // IPVS_CMD_GET_DEST
	CmdNewDaemon  = 9  // IPVS_CMD_NEW_DAEMON
	CmdDelDaemon  = 10 // IPVS_CMD_DEL_DAEMON
	CmdGetDaemon  = 11 // IPVS_CMD_GET_DAEMON
	CmdSetConfig  = 12 // IPVS_CMD_SET_CONFIG
	CmdGetConfig  = 13 // IPVS_CMD_GET_CONFIG
	CmdSetInfo    = 14 // IPVS_CMD_SET_INFO (reply only)
	CmdGetInfo    = 15 // IPVS_CMD_GET_INFO
	CmdZero       = 16 // IPVS_CMD_ZERO
	CmdFlush      = 17 // IPVS_CMD_FLUSH
)

// First-level attributes (enum IPVS_CMD_ATTR_*).
const (
	CmdAttrService       = 1 // IPVS_CMD_ATTR_SERVICE
	CmdAttrDest          = 2 // IPVS_CMD_ATTR_DEST
	CmdAttrDaemon        = 3 // IPVS_CMD_ATTR_DAEMON
	CmdAttrTimeoutTCP    = 4 // IPVS_CMD_ATTR_TIMEOUT_TCP
	CmdAttrTimeoutTCPFin = 5 // IPVS_CMD_ATTR_TIMEOUT_TCP_FIN
	CmdAttrTimeoutUDP    = 6 // IPVS_CMD_ATTR_TIMEOUT_UDP
)

// Service attributes (enum IPVS_SVC_ATTR_*).
const (
	SvcAttrAF        = 1  // IPVS_SVC_ATTR_AF: u16
	SvcAttrProtocol  = 2  // IPVS_SVC_ATTR_PROTOCOL: u16
	SvcAttrAddr      = 3  // IPVS_SVC_ATTR_ADDR: union nf_inet_addr, up to 16 bytes
	SvcAttrPort      = 4  // IPVS_SVC_ATTR_PORT: __be16
	SvcAttrFwmark    = 5  // IPVS_SVC_ATTR_FWMARK: u32
	SvcAttrSchedName = 6  // IPVS_SVC_ATTR_SCHED_NAME: NUL-terminated string
	SvcAttrFlags     = 7  // IPVS_SVC_ATTR_FLAGS: struct ip_vs_flags
	SvcAttrTimeout   = 8  // IPVS_SVC_ATTR_TIMEOUT: u32 seconds
	SvcAttrNetmask   = 9  // IPVS_SVC_ATTR_NETMASK: u32, see package ipvs
	SvcAttrStats     = 10 // IPVS_SVC_ATTR_STATS: nested
	SvcAttrPEName    = 11 // IPVS_SVC_ATTR_PE_NAME: NUL-terminated string
	SvcAttrStats64   = 12 // IPVS_SVC_ATTR_STATS64: nested
)

// Destination attributes (enum IPVS_DEST_ATTR_*).
const (
	DestAttrAddr         = 1  // IPVS_DEST_ATTR_ADDR
	DestAttrPort         = 2  // IPVS_DEST_ATTR_PORT: __be16
	DestAttrFwdMethod    = 3  // IPVS_DEST_ATTR_FWD_METHOD: u32
	DestAttrWeight       = 4  // IPVS_DEST_ATTR_WEIGHT: u32 (kernel int)
	DestAttrUThresh      = 5  // IPVS_DEST_ATTR_U_THRESH: u32
	DestAttrLThresh      = 6  // IPVS_DEST_ATTR_L_THRESH: u32
	DestAttrActiveConns  = 7  // IPVS_DEST_ATTR_ACTIVE_CONNS: u32
	DestAttrInactConns   = 8  // IPVS_DEST_ATTR_INACT_CONNS: u32
	DestAttrPersistConns = 9  // IPVS_DEST_ATTR_PERSIST_CONNS: u32
	DestAttrStats        = 10 // IPVS_DEST_ATTR_STATS: nested
	DestAttrAddrFamily   = 11 // IPVS_DEST_ATTR_ADDR_FAMILY: u16
	DestAttrStats64      = 12 // IPVS_DEST_ATTR_STATS64: nested
	DestAttrTunType      = 13 // IPVS_DEST_ATTR_TUN_TYPE: u8
	DestAttrTunPort      = 14 // IPVS_DEST_ATTR_TUN_PORT: __be16
	DestAttrTunFlags     = 15 // IPVS_DEST_ATTR_TUN_FLAGS: u16
)

// Sync daemon attributes (enum IPVS_DAEMON_ATTR_*).
const (
	DaemonAttrState       = 1 // IPVS_DAEMON_ATTR_STATE: u32
	DaemonAttrMcastIfn    = 2 // IPVS_DAEMON_ATTR_MCAST_IFN: NUL-terminated string
	DaemonAttrSyncID      = 3 // IPVS_DAEMON_ATTR_SYNC_ID: u32
	DaemonAttrSyncMaxlen  = 4 // IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16
	DaemonAttrMcastGroup  = 5 // IPVS_DAEMON_ATTR_MCAST_GROUP: struct in_addr
	DaemonAttrMcastGroup6 = 6 // IPVS_DAEMON_ATTR_MCAST_GROUP6: struct in6_addr
	DaemonAttrMcastPort   = 7 // IPVS_DAEMON_ATTR_MCAST_PORT: u16, host order
	DaemonAttrMcastTTL    = 8 // IPVS_DAEMON_ATTR_MCAST_TTL: u8
)

// Statistics attributes (enum IPVS_STATS_ATTR_*), inside STATS and STATS64.
const (
	StatsAttrConns    = 1  // IPVS_STATS_ATTR_CONNS
	StatsAttrInPkts   = 2  // IPVS_STATS_ATTR_INPKTS
	StatsAttrOutPkts  = 3  // IPVS_STATS_ATTR_OUTPKTS
	StatsAttrInBytes  = 4  // IPVS_STATS_ATTR_INBYTES
	StatsAttrOutBytes = 5  // IPVS_STATS_ATTR_OUTBYTES
	StatsAttrCPS      = 6  // IPVS_STATS_ATTR_CPS
	StatsAttrInPPS    = 7  // IPVS_STATS_ATTR_INPPS
	StatsAttrOutPPS   = 8  // IPVS_STATS_ATTR_OUTPPS
	StatsAttrInBPS    = 9  // IPVS_STATS_ATTR_INBPS
	StatsAttrOutBPS   = 10 // IPVS_STATS_ATTR_OUTBPS
	StatsAttrPad      = 11 // IPVS_STATS_ATTR_PAD
)

// Info attributes (enum IPVS_INFO_ATTR_*), at the top level of SET_INFO.
const (
	InfoAttrVersion     = 1 // IPVS_INFO_ATTR_VERSION: u32
	InfoAttrConnTabSize = 2 // IPVS_INFO_ATTR_CONN_TAB_SIZE: u32
)

// Service flags (IP_VS_SVC_F_*).
const (
	SvcFPersistent = 0x0001 // IP_VS_SVC_F_PERSISTENT
	SvcFHashed     = 0x0002 // IP_VS_SVC_F_HASHED
	SvcFOnePacket  = 0x0004 // IP_VS_SVC_F_ONEPACKET
	SvcFSched1     = 0x0008 // IP_VS_SVC_F_SCHED1
	SvcFSched2     = 0x0010 // IP_VS_SVC_F_SCHED2
	SvcFSched3     = 0x0020 // IP_VS_SVC_F_SCHED3
)

// Forwarding methods (IP_VS_CONN_F_*), masked by IP_VS_CONN_F_FWD_MASK.
const (
	ConnFFwdMask   = 0x0007 // IP_VS_CONN_F_FWD_MASK
	ConnFMasq      = 0x0000 // IP_VS_CONN_F_MASQ
	ConnFLocalNode = 0x0001 // IP_VS_CONN_F_LOCALNODE
	ConnFTunnel    = 0x0002 // IP_VS_CONN_F_TUNNEL
	ConnFDroute    = 0x0003 // IP_VS_CONN_F_DROUTE
	ConnFBypass    = 0x0004 // IP_VS_CONN_F_BYPASS
)

// Tunnel types (enum IP_VS_CONN_F_TUNNEL_TYPE_*) and flags
// (IP_VS_TUNNEL_ENCAP_FLAG_*).
const (
	TunnelTypeIPIP = 0 // IP_VS_CONN_F_TUNNEL_TYPE_IPIP
	TunnelTypeGUE  = 1 // IP_VS_CONN_F_TUNNEL_TYPE_GUE
	TunnelTypeGRE  = 2 // IP_VS_CONN_F_TUNNEL_TYPE_GRE

	TunnelEncapFlagNoCsum  = 0      // IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM
	TunnelEncapFlagCsum    = 1 << 0 // IP_VS_TUNNEL_ENCAP_FLAG_CSUM
	TunnelEncapFlagRemCsum = 1 << 1 // IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM
)

// Sync daemon states (IP_VS_STATE_*).
const (
	StateNone   = 0 // IP_VS_STATE_NONE
	StateMaster = 1 // IP_VS_STATE_MASTER
	StateBackup = 2 // IP_VS_STATE_BACKUP
)

// Name lengths, including the terminating NUL.
const (
	SchedNameMaxLen = 16 // IP_VS_SCHEDNAME_MAXLEN
	PENameMaxLen    = 16 // IP_VS_PENAME_MAXLEN
	IfNameMaxLen    = 16 // IP_VS_IFNAME_MAXLEN
)

// Address families (linux/socket.h), as the family uses them.
const (
	AFInet  = 2  // AF_INET
	AFInet6 = 10 // AF_INET6
)
