package ipvs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipvs-go/ipvs/internal/procfs"
)

// Sysctls are the IPVS settings of a network namespace, the entries of
// /proc/sys/net/ipv4/vs (see the kernel's
// Documentation/networking/ipvs-sysctl.rst), typed. They are not
// reachable through the netlink family. Client.Sysctls reads them and
// Client.SetSysctls writes some of them.
//
// A boolean reads true for any nonzero value: the kernel stores most as
// plain integers and tests them for nonzero. An entry the running kernel
// lacks keeps its field's zero value and is named in Absent: of the
// kernels tested, 5.10 lacks run_estimation, 6.1 also est_cpulist and
// est_nice, 6.12 also conn_max, conn_lfactor and svc_lfactor, which 7.2
// has; lblc_expiration and lblcr_expiration exist only while the ip_vs_lblc
// and ip_vs_lblcr modules are loaded, debug_level only with
// CONFIG_IP_VS_DEBUG (none of Debian's), conntrack only with
// CONFIG_IP_VS_NFCT.
type Sysctls struct {
	// Conntrack keeps netfilter connection tracking for IPVS connections.
	Conntrack bool `sysctl:"conntrack"`
	// ConnReuseMode says how a connection reusing an entry's ports is
	// scheduled: 0 keeps the entry, bit 1 reschedules a reused
	// connection, bit 2 does so for persistent ones too.
	ConnReuseMode int `sysctl:"conn_reuse_mode"`
	// ExpireNodestConn expires at once the entries of a removed
	// destination, instead of at their timeout.
	ExpireNodestConn bool `sysctl:"expire_nodest_conn"`
	// ExpireQuiescentTemplate expires the persistence templates of a
	// destination at weight 0.
	ExpireQuiescentTemplate bool `sysctl:"expire_quiescent_template"`
	// SloppyTCP and SloppySCTP create entries from any packet of a
	// connection, not only its first: for a director taking over.
	SloppyTCP  bool `sysctl:"sloppy_tcp"`
	SloppySCTP bool `sysctl:"sloppy_sctp"`
	// ScheduleICMP schedules ICMP packets too.
	ScheduleICMP bool `sysctl:"schedule_icmp"`
	// IgnoreTunneled leaves tunnelled packets to the stack.
	IgnoreTunneled bool `sysctl:"ignore_tunneled"`
	// CacheBypass forwards to the original destination when no real
	// server is available.
	CacheBypass bool `sysctl:"cache_bypass"`
	// NATICMPSend answers ICMP errors for NAT connections without a
	// destination.
	NATICMPSend bool `sysctl:"nat_icmp_send"`
	// PMTUDisc keeps path MTU discovery in tunnels.
	PMTUDisc bool `sysctl:"pmtu_disc"`
	// SNATReroute reroutes NAT replies by their source address.
	SNATReroute bool `sysctl:"snat_reroute"`
	// BackupOnly disables the director's forwarding while a backup
	// synchronization daemon runs.
	BackupOnly bool `sysctl:"backup_only"`

	// AmemThresh is the available memory, in pages, below which the
	// defense strategies turn on; AmDropRate the rate of drop_packet.
	AmemThresh int `sysctl:"amemthresh"`
	AmDropRate int `sysctl:"am_droprate"`
	// DropEntry, DropPacket and SecureTCP are defense modes, 0 to 3:
	// never, automatic, automatic now active, always.
	DropEntry  int `sysctl:"drop_entry,0,3"`
	DropPacket int `sysctl:"drop_packet,0,3"`
	SecureTCP  int `sysctl:"secure_tcp,0,3"`

	// SyncVersion is the synchronization protocol version, 0 or 1.
	SyncVersion int `sysctl:"sync_version,0,1"`
	// SyncPorts is the number of sync sockets, a power of 2.
	SyncPorts int `sysctl:"sync_ports,1"`
	// SyncPersistMode syncs persistent connections by their template.
	SyncPersistMode bool `sysctl:"sync_persist_mode"`
	// SyncQlenMax bounds the queue of sync messages.
	SyncQlenMax uint64 `sysctl:"sync_qlen_max"`
	// SyncSockSize is the sync sockets' buffer size, 0 for the default.
	SyncSockSize int `sysctl:"sync_sock_size"`
	// SyncThreshold says which packets of a connection are synced.
	SyncThreshold SyncThreshold `sysctl:"sync_threshold"`
	// SyncRefreshPeriod re-syncs a connection whose state or timeout
	// did not change for that long; 0 syncs by SyncThreshold only.
	SyncRefreshPeriod time.Duration `sysctl:"sync_refresh_period"`
	// SyncRetries is how often a sync message is resent, 0 to 3.
	SyncRetries int `sysctl:"sync_retries,0,3"`

	// RunEstimation runs the rate estimators.
	RunEstimation bool `sysctl:"run_estimation"`
	// EstCPUList are the CPUs of the estimator threads, as a list such
	// as "0-3,8".
	EstCPUList string `sysctl:"est_cpulist"`
	// EstNice is the estimator threads' nice value, -20 to 19.
	EstNice int `sysctl:"est_nice,-20,19"`

	// ConnMax bounds the namespace's connection entries; ConnLFactor
	// and SvcLFactor are the load factors, -8 to 8, by which the
	// connection and service hash tables grow.
	ConnMax     int `sysctl:"conn_max,0"`
	ConnLFactor int `sysctl:"conn_lfactor,-8,8"`
	SvcLFactor  int `sysctl:"svc_lfactor,-8,8"`

	// LBLCExpiration and LBLCRExpiration expire the lblc and lblcr
	// schedulers' idle entries; they exist while those modules are loaded.
	LBLCExpiration  time.Duration `sysctl:"lblc_expiration"`
	LBLCRExpiration time.Duration `sysctl:"lblcr_expiration"`
	// DebugLevel is the kernel's IPVS debug level, 0 to 12.
	DebugLevel int `sysctl:"debug_level"`

	// Absent names the entries above that the kernel lacks, in the
	// order of the fields.
	Absent []string
	// Other holds the entries this package does not know, by name, as
	// the kernel prints them without the final newline.
	Other map[string]string
}

// SyncThreshold is the pair of sync_threshold: a connection is synced at
// its Threshold-th packet and then every Period packets; a Period of 0
// syncs only on state changes, after Threshold packets.
type SyncThreshold struct {
	Threshold int
	Period    int
}

// SysctlChanges is a partial update of Sysctls for Client.SetSysctls:
// each non-nil field is written, the others are left as they are. Its
// fields are those of Sysctls, as pointers:
//
//	c.SetSysctls(ctx, ipvs.SysctlChanges{ExpireNodestConn: new(true), SyncRetries: new(2)})
type SysctlChanges struct {
	Conntrack               *bool
	ConnReuseMode           *int
	ExpireNodestConn        *bool
	ExpireQuiescentTemplate *bool
	SloppyTCP               *bool
	SloppySCTP              *bool
	ScheduleICMP            *bool
	IgnoreTunneled          *bool
	CacheBypass             *bool
	NATICMPSend             *bool
	PMTUDisc                *bool
	SNATReroute             *bool
	BackupOnly              *bool
	AmemThresh              *int
	AmDropRate              *int
	DropEntry               *int
	DropPacket              *int
	SecureTCP               *int
	SyncVersion             *int
	SyncPorts               *int
	SyncPersistMode         *bool
	SyncQlenMax             *uint64
	SyncSockSize            *int
	SyncThreshold           *SyncThreshold
	SyncRefreshPeriod       *time.Duration
	SyncRetries             *int
	RunEstimation           *bool
	EstCPUList              *string
	EstNice                 *int
	ConnMax                 *int
	ConnLFactor             *int
	SvcLFactor              *int
	LBLCExpiration          *time.Duration
	LBLCRExpiration         *time.Duration
	DebugLevel              *int

	// Other writes entries this package does not know, by name, as text.
	Other map[string]string
}

// sysctlTable encodes and decodes Sysctls and SysctlChanges by the
// fields' tags.
var sysctlTable = procfs.NewSysctlTable[Sysctls, SysctlChanges]()

// Sysctls reads the IPVS sysctls of the client's network namespace (not
// the caller's: procfs resolves /proc/sys/net by the opening thread's
// namespace, so they are read from a thread in the client's).
func (c *Client) Sysctls(ctx context.Context) (Sysctls, error) {
	if err := ctx.Err(); err != nil {
		return Sysctls{}, &Error{Op: opSysctls, Err: err}
	}
	if c.proc == nil {
		return Sysctls{}, &Error{Op: opSysctls, Err: errNoProc}
	}
	texts, err := c.proc.Sysctls()
	if err != nil {
		return Sysctls{}, procError(opSysctls, err)
	}
	s, absent, other, err := sysctlTable.Decode(texts)
	if err != nil {
		return Sysctls{}, &Error{Op: opSysctls, Err: err}
	}
	s.Absent, s.Other = absent, other
	return s, nil
}

// SetSysctls writes the entries ch gives, in the client's network
// namespace, after checking every value: a value out of the range the
// kernel accepts is refused before anything is written, with an
// *InvalidError that names the entry and the value. The entries are then
// written one by one, in the order of SysctlChanges' fields, then Other's
// by name; an entry the kernel lacks or refuses does not stop the others,
// and the error joins each failure (an absent one matches
// os.ErrNotExist). Writing needs CAP_NET_ADMIN over the namespace.
func (c *Client) SetSysctls(ctx context.Context, ch SysctlChanges) error {
	writes, err := sysctlTable.Writes(&ch, ch.Other)
	var inv *procfs.SysctlError
	if errors.As(err, &inv) {
		err = &InvalidError{Field: inv.Field, Reason: inv.Reason}
	}
	if err != nil {
		return &Error{Op: opSetSysctls, Err: err}
	}
	if c.proc == nil {
		return &Error{Op: opSetSysctls, Err: errNoProc}
	}
	var errs []error
	for _, w := range writes {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, &Error{Op: opSetSysctls, Err: err})...)
		}
		if err := c.proc.SetSysctl(w.Name, w.Text); err != nil {
			errs = append(errs, &Error{Op: opSetSysctls, Object: fmt.Sprintf("%s to %q", w.Name, w.Text), Err: err})
		}
	}
	return errors.Join(errs...)
}
