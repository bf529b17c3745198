package fakekernel

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs/internal/procfs"
)

// The kernel's side of IPVS's procfs files: the connection table as
// ip_vs_conn.c's seq_show functions print it.

// FormatConn prints c as a line of the table of format f, without its
// newline.
func FormatConn(c procfs.Conn, f procfs.Format) string {
	addr := func(a netip.Addr) string {
		if a.Is4() {
			b := a.As4()
			return fmt.Sprintf("%02X%02X%02X%02X", b[0], b[1], b[2], b[3])
		}
		b := a.As16()
		var s []string
		for i := 0; i < 16; i += 2 {
			s = append(s, fmt.Sprintf("%02x%02x", b[i], b[i+1]))
		}
		return strings.Join(s, ":")
	}
	proto := fmt.Sprint("IP_", c.Protocol)
	for name, p := range procfs.Protocols {
		if p == c.Protocol {
			proto = name
		}
	}
	s := fmt.Sprintf("%-3s %s %04X %s %04X %s %04X %-11s", proto,
		addr(c.Client.Addr()), c.Client.Port(), addr(c.Virtual.Addr()), c.Virtual.Port(),
		addr(c.Destination.Addr()), c.Destination.Port(), c.State)
	secs := int64(c.Expires / time.Second)
	if f == procfs.Sync {
		origin := "LOCAL"
		if c.Synced {
			origin = "SYNC"
		}
		return fmt.Sprintf("%s %-6s %7d", s, origin, secs)
	}
	s += fmt.Sprintf(" %7d", secs)
	if c.PEName != "" {
		s += " " + c.PEName + " " + c.PEData
	}
	return s
}

// ConnTables returns the text of the two tables, ip_vs_conn and
// ip_vs_conn_sync, that list conns.
func ConnTables(conns []procfs.Conn) (plain, sync string) {
	p, s := []string{procfs.Header}, []string{procfs.SyncHeader}
	for _, c := range conns {
		p = append(p, FormatConn(c, procfs.Plain))
		s = append(s, FormatConn(c, procfs.Sync))
	}
	return strings.Join(p, "\n") + "\n", strings.Join(s, "\n") + "\n"
}
