package collector

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// totalFamilies are the namespace's totals and their rates.
var totalFamilies = []string{
	"ipvs_connections_total", "ipvs_incoming_packets_total", "ipvs_outgoing_packets_total",
	"ipvs_incoming_bytes_total", "ipvs_outgoing_bytes_total",
	"ipvs_connections_per_second", "ipvs_incoming_packets_per_second", "ipvs_outgoing_packets_per_second",
	"ipvs_incoming_bytes_per_second", "ipvs_outgoing_bytes_per_second",
}

// TestTotals exports the namespace's totals as the Source reads them,
// 64-bit values as near as a float64 holds them, whatever the labels
// and the service filter keep, and their rates with WithRates.
func TestTotals(t *testing.T) {
	src := goldenTable()
	src.totals = ipvs.Stats{Connections: 7, InPackets: 1 << 40, OutPackets: 3, InBytes: 1<<64 - 1, OutBytes: 5,
		ConnectionRate: 1, InPacketRate: 2, OutPacketRate: 3, InByteRate: 4, OutByteRate: 5}
	c := must(New(src, WithRates(), WithNetNS("x"), WithLabels("port"),
		WithServiceFilter(regexp.MustCompile(`^none$`), nil)))
	want := `# HELP ipvs_connections_per_second The kernel's estimate of connections scheduled per second. The namespace's total, services since removed included (/proc/net/ip_vs_stats).
# TYPE ipvs_connections_per_second gauge
ipvs_connections_per_second{netns="x"} 1
# HELP ipvs_connections_total Connections scheduled. The namespace's total, services since removed included (/proc/net/ip_vs_stats).
# TYPE ipvs_connections_total counter
ipvs_connections_total{netns="x"} 7
# HELP ipvs_incoming_bytes_per_second The kernel's estimate of bytes from clients per second. The namespace's total, services since removed included (/proc/net/ip_vs_stats).
# TYPE ipvs_incoming_bytes_per_second gauge
ipvs_incoming_bytes_per_second{netns="x"} 4
# HELP ipvs_incoming_bytes_total Bytes from clients. The namespace's total, services since removed included (/proc/net/ip_vs_stats).
# TYPE ipvs_incoming_bytes_total counter
ipvs_incoming_bytes_total{netns="x"} 1.8446744073709552e+19
# HELP ipvs_incoming_packets_per_second The kernel's estimate of packets from clients per second. The namespace's total, services since removed included (/proc/net/ip_vs_stats).
# TYPE ipvs_incoming_packets_per_second gauge
ipvs_incoming_packets_per_second{netns="x"} 2
# HELP ipvs_incoming_packets_total Packets from clients. The namespace's total, services since removed included (/proc/net/ip_vs_stats).
# TYPE ipvs_incoming_packets_total counter
ipvs_incoming_packets_total{netns="x"} 1.099511627776e+12
# HELP ipvs_outgoing_bytes_per_second The kernel's estimate of bytes to clients per second. The namespace's total, services since removed included (/proc/net/ip_vs_stats).
# TYPE ipvs_outgoing_bytes_per_second gauge
ipvs_outgoing_bytes_per_second{netns="x"} 5
# HELP ipvs_outgoing_bytes_total Bytes to clients. The namespace's total, services since removed included (/proc/net/ip_vs_stats).
# TYPE ipvs_outgoing_bytes_total counter
ipvs_outgoing_bytes_total{netns="x"} 5
# HELP ipvs_outgoing_packets_per_second The kernel's estimate of packets to clients per second. The namespace's total, services since removed included (/proc/net/ip_vs_stats).
# TYPE ipvs_outgoing_packets_per_second gauge
ipvs_outgoing_packets_per_second{netns="x"} 3
# HELP ipvs_outgoing_packets_total Packets to clients. The namespace's total, services since removed included (/proc/net/ip_vs_stats).
# TYPE ipvs_outgoing_packets_total counter
ipvs_outgoing_packets_total{netns="x"} 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), totalFamilies...); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(must(New(src)), totalFamilies...); n != 5 {
		t.Errorf("%d series of totals without WithRates, want the 5 counters", n)
	}
}

// TestTotalsFail leaves the totals out when their read fails, and counts
// the failure; the rest of the scrape stands.
func TestTotalsFail(t *testing.T) {
	src := goldenTable()
	src.totalsErr = errors.New("no ip_vs_stats")
	c := must(New(src, WithRates()))
	for range 2 {
		if n := testutil.CollectAndCount(c, totalFamilies...); n != 0 {
			t.Errorf("%d series of totals after a failed read", n)
		}
	}
	want := `# HELP ipvs_scrape_errors_total Failed reads of the IPVS table, by operation.
# TYPE ipvs_scrape_errors_total counter
ipvs_scrape_errors_total{operation="daemons"} 0
ipvs_scrape_errors_total{operation="info"} 0
ipvs_scrape_errors_total{operation="timeouts"} 0
ipvs_scrape_errors_total{operation="totals"} 3
ipvs_scrape_errors_total{operation="virtual_servers"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ipvs_scrape_errors_total"); err != nil {
		t.Error(err)
	}
	if v := testutil.ToFloat64(upOnly{c}); v != 1 {
		t.Errorf("ipvs_up %v, want 1", v)
	}
}

// TestTotalsOnlyFromATotalsSource: a Source without Totals makes neither
// the totals nor their operation's error counter, and Describe agrees.
func TestTotalsOnlyFromATotalsSource(t *testing.T) {
	c := must(New(plainSource{goldenTable()}, WithRates()))
	if n := testutil.CollectAndCount(c, totalFamilies...); n != 0 {
		t.Errorf("%d series of totals from a Source without Totals", n)
	}
	if n := testutil.CollectAndCount(c, "ipvs_scrape_errors_total"); n != 4 {
		t.Errorf("%d error counters, want 4: no totals operation", n)
	}
	if n := len(c.d.totals) + len(c.d.totalRates); n != 0 {
		t.Errorf("%d descriptors of totals", n)
	}
}
