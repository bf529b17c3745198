//go:build integration && linux

package ipvs_test

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ipvs-go/ipvs"
)

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
