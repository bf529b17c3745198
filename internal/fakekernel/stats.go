package fakekernel

import (
	"fmt"

	"github.com/ipvs-go/ipvs/internal/procfs"
)

// FormatStats prints the namespace's totals as ip_vs_stats_show does
// (Linux 4.1 and later, whose values are all 64-bit).
func FormatStats(s procfs.Stats) string {
	return "   Total Incoming Outgoing         Incoming         Outgoing\n" +
		"   Conns  Packets  Packets            Bytes            Bytes\n" +
		fmt.Sprintf("%8X %8X %8X %16X %16X\n\n", s.Connections, s.InPackets, s.OutPackets, s.InBytes, s.OutBytes) +
		" Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n" +
		fmt.Sprintf("%8X %8X %8X %16X %16X\n", s.ConnectionRate, s.InPacketRate, s.OutPacketRate, s.InByteRate, s.OutByteRate)
}
