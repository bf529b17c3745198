package text

import (
	"bufio"
	"fmt"
	"net/netip"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
)

// connProtocols are the kernel's names of protocols in its connection
// table (ip_vs_proto_name), which ipvsadm prints as they are.
var connProtocols = map[ipvs.Protocol]string{0: "IP", 1: "ICMP", 4: "IPIP", 6: "TCP", 17: "UDP", 47: "GRE", 58: "ICMPv6", 132: "SCTP"}

// ConnProtocol names p as the kernel's table does.
func ConnProtocol(p ipvs.Protocol) string {
	if s, ok := connProtocols[p]; ok {
		return s
	}
	return fmt.Sprintf("IP_%d", p)
}

// ConnTitle is the head of ipvsadm -Lc.
func ConnTitle(w *bufio.Writer, f cli.Format) {
	w.WriteString("IPVS connection entries\n")
	if f&cli.FmtPersistentConn != 0 {
		fmt.Fprintf(w, "pro expire %-11s %-18s %-18s %-18s %-16s %s\n", "state", "source", "virtual", "destination", "pe name", "pe_data")
	} else {
		fmt.Fprintf(w, "pro expire %-11s %-18s %-18s %s\n", "state", "source", "virtual", "destination")
	}
}

// Conn is one line of ipvsadm -Lc (print_conn). Names resolve with the
// connection's protocol, and the virtual address takes the client's
// family, as ipvsadm reads them.
func Conn(w *bufio.Writer, c *ipvs.Connection, f cli.Format) {
	proto := c.Protocol
	if proto != ipvs.ProtocolTCP && proto != ipvs.ProtocolUDP && proto != ipvs.ProtocolSCTP {
		proto = 0
	}
	virt := c.Virtual.Addr()
	if c.Client.Addr().Is6() && virt.Is4() {
		virt = netip.AddrFrom16(virt.As16())
	}
	cname := addrPort(c.Client.Addr(), c.Client.Port(), proto, f)
	vname := addrPort(virt, c.Virtual.Port(), proto, f)
	dname := addrPort(c.Destination.Addr(), c.Destination.Port(), proto, f)
	secs := uint32(c.Expires.Seconds())
	expire := fmt.Sprintf("%02d:%02d", secs/60, secs%60)
	if f&cli.FmtPersistentConn != 0 && c.PersistenceEngine != "" {
		fmt.Fprintf(w, "%-3s %-6s %-11s %-18s %-18s %-16s %-18s %s\n", ConnProtocol(c.Protocol), expire, c.State, cname, vname, dname, c.PersistenceEngine, c.PEData)
		return
	}
	fmt.Fprintf(w, "%-3s %-6s %-11s %-18s %-18s %s\n", ConnProtocol(c.Protocol), expire, c.State, cname, vname, dname)
}
