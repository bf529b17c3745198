package ipvstest

import (
	"io"
	"maps"
	"strings"
	"syscall"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/procfs"
)

// The model's procfs: the connection table, the sysctls and the totals
// that a client's Connections, ConnectionStates, Sysctls, SetSysctls and
// Totals read and write, printed as the kernel prints them, so that the
// client's own parsers run; never the host's.

// SetConnectionTable sets the entries of the connection table, as traffic
// would have made them: what Connections lists and ConnectionStates
// counts. (The connection counts of a destination, which a drain waits
// on, are set apart, with SetConnections.)
func (f *Fake) SetConnectionTable(conns []ipvs.Connection) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns = f.conns[:0]
	for _, c := range conns {
		f.conns = append(f.conns, procfs.Conn{Protocol: uint16(c.Protocol), Client: c.Client, Virtual: c.Virtual,
			Destination: c.Destination, State: c.State, Expires: c.Expires, PEName: c.PersistenceEngine,
			PEData: c.PEData, Synced: c.Synced})
	}
}

// SetSysctl sets the text of a sysctl of net/ipv4/vs, as a write would;
// a name the model did not have is added, and an empty text removes it.
func (f *Fake) SetSysctl(name, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if text == "" {
		delete(f.sysctls, name)
		return
	}
	f.sysctls[name] = text
}

// SetTotals sets the namespace's totals, as traffic would have made them:
// what Totals reads. They are the model's own, not the sum of its
// services' counters, as the kernel's count services since removed too;
// ZeroStats zeroes them, ZeroServiceStats does not.
func (f *Fake) SetTotals(st ipvs.Stats) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t.totals = st
}

// defaultSysctls are a fresh namespace's sysctls on Linux 7.2; values that
// depend on the machine (sync_qlen_max from its memory, est_cpulist from
// its CPUs) as a VM of 1 GiB and two CPUs has them.
func defaultSysctls() map[string]string {
	return map[string]string{
		"am_droprate": "10", "amemthresh": "1024", "backup_only": "0", "cache_bypass": "0",
		"conn_lfactor": "-4", "conn_max": "1073741824", "conn_reuse_mode": "1", "conntrack": "0",
		"drop_entry": "0", "drop_packet": "0", "est_cpulist": "0-1", "est_nice": "0",
		"expire_nodest_conn": "0", "expire_quiescent_template": "0", "ignore_tunneled": "0",
		"nat_icmp_send": "0", "pmtu_disc": "1", "run_estimation": "1", "schedule_icmp": "0",
		"secure_tcp": "0", "sloppy_sctp": "0", "sloppy_tcp": "0", "snat_reroute": "1",
		"svc_lfactor": "-3", "sync_persist_mode": "0", "sync_ports": "1", "sync_qlen_max": "6116",
		"sync_refresh_period": "0", "sync_retries": "0", "sync_sock_size": "0",
		"sync_threshold": "3\t50", "sync_version": "1",
	}
}

// sysctlsSince are the sysctls that kernels before a version lack.
var sysctlsSince = []struct {
	names        []string
	major, minor int
}{
	{[]string{"run_estimation"}, 6, 1},
	{[]string{"est_cpulist", "est_nice"}, 6, 2},
	{[]string{"conn_max", "conn_lfactor", "svc_lfactor"}, 7, 0},
}

// fakeProc is the model's procfs behind a client.
type fakeProc struct{ f *Fake }

func (p fakeProc) OpenConns() (plain, sync io.ReadCloser, err error) {
	p.f.mu.Lock()
	pt, st := fakekernel.ConnTables(p.f.conns)
	p.f.mu.Unlock()
	return io.NopCloser(strings.NewReader(pt)), io.NopCloser(strings.NewReader(st)), nil
}

// Sysctls returns the model's sysctls, those of the lblc and lblcr
// schedulers while a service uses them (the kernel has them while their
// modules are loaded), less those the modelled kernel version lacks.
func (p fakeProc) Sysctls() (map[string]string, error) {
	f := p.f
	f.mu.Lock()
	defer f.mu.Unlock()
	m := maps.Clone(f.sysctls)
	for _, s := range f.t.svcs {
		switch s.sched {
		case "lblc":
			m["lblc_expiration"] = "86400"
		case "lblcr":
			m["lblcr_expiration"] = "86400"
		}
	}
	for _, since := range sysctlsSince {
		if f.kernel < kernelVersion(since.major, since.minor) {
			for _, n := range since.names {
				delete(m, n)
			}
		}
	}
	return m, nil
}

// ReadStats prints the model's totals as ip_vs_stats does.
func (p fakeProc) ReadStats() ([]byte, error) {
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	return []byte(fakekernel.FormatStats(procfs.Stats(p.f.t.totals))), nil
}

// SetSysctl writes one sysctl the model has; the kernel checks values
// the client does not know the range of, the model takes them as they
// are.
func (p fakeProc) SetSysctl(name, text string) error {
	f := p.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sysctls[name]; !ok {
		return procfs.NoEntry(syscall.ENOENT)
	}
	f.sysctls[name] = text
	return nil
}
