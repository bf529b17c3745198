//go:build integration && linux

package ipvs_test

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

// The methods that read the namespace's procfs rather than the netlink
// family, on each kernel: the sysctls and the totals. The connection
// table has its lab of its own (connections_integration_test.go).

// TestKernelSysctls: the entries each kernel has, read as the kernel
// prints them, in the client's namespace; a change in B leaves A as it
// was; a read-modify-write round trip; refusals.
func TestKernelSysctls(t *testing.T) {
	nsA, a := newClient(t)
	nsB, b := newClient(t)
	ctx := ctxT(t)
	// The lblc schedulers' entries exist while their modules are loaded.
	for _, s := range []string{"lblc", "lblcr"} {
		must(t, a.CreateService(ctx, ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80 + uint16(len(s)), Scheduler: s}))
	}
	before, err := a.Sysctls(ctx)
	must(t, err)
	t.Logf("A: %+v", before)
	var absent []string
	if !kernelAtLeast(6, 1) {
		absent = append(absent, "run_estimation")
	}
	if !kernelAtLeast(6, 2) {
		absent = append(absent, "est_cpulist", "est_nice")
	}
	if !kernelAtLeast(7, 0) {
		absent = append(absent, "conn_max", "conn_lfactor", "svc_lfactor")
	}
	absent = append(absent, "debug_level")
	if !slices.Equal(before.Absent, absent) || len(before.Other) != 0 {
		t.Errorf("absent %v and other %v, want absent %v and no other", before.Absent, before.Other, absent)
	}
	// Every present entry reads as the kernel prints it.
	for _, name := range strings.Fields(nsA.sh("ls /proc/sys/net/ipv4/vs")) {
		raw := strings.TrimSpace(nsA.sh("cat /proc/sys/net/ipv4/vs/" + name))
		if got := sysctlText(t, before, name); got != raw {
			t.Errorf("%s reads %q, the kernel prints %q", name, got, raw)
		}
	}

	// Read-modify-write in B.
	bBefore, err := b.Sysctls(ctx)
	must(t, err)
	ch := ipvs.SysctlChanges{ExpireNodestConn: new(true), ExpireQuiescentTemplate: new(true), SloppyTCP: new(true),
		ConnReuseMode: new(2), SyncThreshold: new(ipvs.SyncThreshold{Threshold: 4, Period: 60}), SyncRefreshPeriod: new(90 * time.Second),
		SyncPorts: new(4), SyncQlenMax: new(uint64(1000)), DropEntry: new(3), SyncRetries: new(2)}
	want := bBefore
	want.ExpireNodestConn, want.ExpireQuiescentTemplate, want.SloppyTCP = true, true, true
	want.ConnReuseMode, want.SyncThreshold, want.SyncRefreshPeriod = 2, ipvs.SyncThreshold{Threshold: 4, Period: 60}, 90*time.Second
	want.SyncPorts, want.SyncQlenMax, want.DropEntry, want.SyncRetries = 4, 1000, 3, 2
	if kernelAtLeast(6, 2) {
		ch.EstNice, want.EstNice = new(5), 5
	}
	must(t, b.SetSysctls(ctx, ch))
	bAfter, err := b.Sysctls(ctx)
	must(t, err)
	if !reflect.DeepEqual(bAfter, want) {
		t.Errorf("B after the change\n%+v, want\n%+v", bAfter, want)
	}
	if raw := strings.TrimSpace(nsB.sh("cat /proc/sys/net/ipv4/vs/sync_threshold")); raw != "4\t60" {
		t.Errorf("B's sync_threshold is %q", raw)
	}
	after, err := a.Sysctls(ctx)
	must(t, err)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("A changed with B:\n%+v, was\n%+v", after, before)
	}

	// Refused by the client: nothing written.
	err = b.SetSysctls(ctx, ipvs.SysctlChanges{SloppySCTP: new(true), SyncPorts: new(3)})
	wantErr(t, err, os.ErrInvalid)
	if s, _ := b.Sysctls(ctx); s.SloppySCTP {
		t.Errorf("sloppy_sctp written along with a refused value")
	}
	// Refused by the kernel, or absent: the other entries are written.
	err = b.SetSysctls(ctx, ipvs.SysctlChanges{SloppySCTP: new(true), ConnMax: new(math.MaxInt32), Other: map[string]string{"nosuch": "1"}})
	if kernelAtLeast(7, 0) {
		wantErr(t, err, syscall.EINVAL, os.ErrNotExist)
	} else {
		wantErr(t, err, os.ErrNotExist)
	}
	if !strings.Contains(err.Error(), "conn_max") || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("error %v does not name both entries", err)
	}
	var ie *ipvs.Error
	if !errors.As(err, &ie) {
		t.Errorf("error %v is not an *ipvs.Error", err)
	}
	if s, _ := b.Sysctls(ctx); !s.SloppySCTP {
		t.Errorf("sloppy_sctp not written along with a refused entry")
	}
}

// sysctlText prints the field of s for the entry name as the kernel does.
func sysctlText(t *testing.T, s ipvs.Sysctls, name string) string {
	t.Helper()
	typ := reflect.TypeOf(s)
	for i := range typ.NumField() {
		if tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("sysctl"), ","); tag == name {
			switch v := reflect.ValueOf(s).Field(i).Interface().(type) {
			case bool:
				if v {
					return "1"
				}
				return "0"
			case time.Duration:
				return fmt.Sprint(int64(v / time.Second))
			case ipvs.SyncThreshold:
				return fmt.Sprintf("%d\t%d", v.Threshold, v.Period)
			default:
				return fmt.Sprint(v)
			}
		}
	}
	return s.Other[name]
}

// TestKernelTotals runs traffic through two services of a namespace and
// removes the first: the namespace's totals keep counting it, equal
// /proc/net/ip_vs_stats there, are that namespace's alone, and go to 0
// with ZeroStats.
func TestKernelTotals(t *testing.T) {
	ns, c := newClient(t)
	ctx := ctxT(t)
	if got, err := c.Totals(ctx); err != nil || got != (ipvs.Stats{}) {
		t.Fatalf("a fresh namespace's totals: %+v, %v; want zeros", got, err)
	}
	client := ns.clientNS()
	var svcs [2]ipvs.Service
	for i := range svcs {
		svcs[i] = ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: netip.MustParseAddr("10.99.1.1"), Port: uint16(9000 + i), Scheduler: "rr"}
		must(t, c.CreateService(ctx, svcs[i]))
		must(t, c.CreateDestination(ctx, svcs[i], ipvs.Destination{Address: netip.MustParseAddr("10.99.0.3"), Port: 9000, Weight: 1}))
	}
	serviceCounters := func(svc ipvs.Service) ipvs.Stats {
		t.Helper()
		s, err := c.Service(ctx, svc)
		must(t, err)
		return counters(s.Stats)
	}
	totalCounters := func() ipvs.Stats {
		t.Helper()
		s, err := c.Totals(ctx)
		must(t, err)
		return counters(s)
	}

	client.udpTraffic("10.99.1.1:9000", 7)
	var first ipvs.Stats
	eventually(t, "7 datagrams counted by the service and the totals", func() bool {
		first = serviceCounters(svcs[0])
		return first.InPackets >= 7 && totalCounters() == first
	})
	must(t, c.RemoveService(ctx, svcs[0]))
	if got := totalCounters(); got != first {
		t.Fatalf("after the service's removal the totals are %+v, want its counters %+v", got, first)
	}

	client.udpTraffic("10.99.1.1:9001", 3)
	var second ipvs.Stats
	eventually(t, "the removed service and the live one in the totals", func() bool {
		second = serviceCounters(svcs[1])
		want := first
		want.Connections += second.Connections
		want.InPackets += second.InPackets
		want.OutPackets += second.OutPackets
		want.InBytes += second.InBytes
		want.OutBytes += second.OutBytes
		return second.InPackets >= 3 && totalCounters() == want
	})

	// The file, read by cat in the namespace and parsed here on its own,
	// rates included: between two reads of the library that agree, as the
	// estimator may run between any two.
	var text string
	eventually(t, "Totals equal to /proc/net/ip_vs_stats", func() bool {
		before, err := c.Totals(ctx)
		must(t, err)
		text = ns.sh("cat /proc/net/ip_vs_stats")
		after, err := c.Totals(ctx)
		must(t, err)
		return before == after && parseStatsText(t, text) == before
	})
	dumpStats(t, text)

	other := newNetNS(t).client()
	if got, err := other.Totals(ctx); err != nil || got != (ipvs.Stats{}) {
		t.Errorf("another namespace's totals: %+v, %v; want zeros", got, err)
	}

	must(t, c.ZeroStats(ctx))
	if got := totalCounters(); got != (ipvs.Stats{}) {
		t.Errorf("after ZeroStats the totals are %+v", got)
	}
}

// counters are the five counters of s, without its rates.
func counters(s ipvs.Stats) ipvs.Stats {
	return ipvs.Stats{Connections: s.Connections, InPackets: s.InPackets, OutPackets: s.OutPackets, InBytes: s.InBytes, OutBytes: s.OutBytes}
}

// parseStatsText reads ip_vs_stats with fmt, apart from the library's
// parser: the values of its third and sixth lines.
func parseStatsText(t *testing.T, text string) ipvs.Stats {
	t.Helper()
	lines := strings.Split(text, "\n")
	var s ipvs.Stats
	if len(lines) < 6 {
		t.Fatalf("ip_vs_stats:\n%s", text)
	}
	if _, err := fmt.Sscanf(lines[2], "%x %x %x %x %x", &s.Connections, &s.InPackets, &s.OutPackets, &s.InBytes, &s.OutBytes); err != nil {
		t.Fatalf("ip_vs_stats line 3 %q: %v", lines[2], err)
	}
	if _, err := fmt.Sscanf(lines[5], "%x %x %x %x %x", &s.ConnectionRate, &s.InPacketRate, &s.OutPacketRate, &s.InByteRate, &s.OutByteRate); err != nil {
		t.Fatalf("ip_vs_stats line 6 %q: %v", lines[5], err)
	}
	return s
}

// dumpStats prints the file between markers when IPVS_STATS_DUMP is set,
// for testdata/stats (see its README).
func dumpStats(t *testing.T, text string) {
	if os.Getenv("IPVS_STATS_DUMP") == "" {
		return
	}
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	fmt.Printf("=== DUMP %s ip_vs_stats\n%s=== END\n", unix.ByteSliceToString(uts.Release[:]), text)
}
