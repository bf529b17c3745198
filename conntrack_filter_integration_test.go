//go:build integration && linux

package ipvs_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
)

// The flush's filtering against the kernel, on entries made with
// conntrack -I: which entries a set of filters deletes, among entries
// that differ from them in one field each, over IPv4 and IPv6, with the
// kernel filtering the dump (CTA_FILTER) and without, as on a kernel
// before 5.8; conntrack -L is the judge of what is left.

// ctMade is an entry conntrack -I makes: proto from client to virtual,
// answered by real.
type ctMade struct {
	proto                 string
	client, virtual, real string
}

func (e ctMade) insert() string {
	ap := netip.MustParseAddrPort
	c, v, r := ap(e.client), ap(e.virtual), ap(e.real)
	s := fmt.Sprintf("conntrack -I -p %s -s %s -d %s --sport %d --dport %d -r %s -q %s --reply-port-src %d --reply-port-dst %d -t 300",
		e.proto, c.Addr(), v.Addr(), c.Port(), v.Port(), r.Addr(), c.Addr(), r.Port(), c.Port())
	if e.proto == "tcp" {
		s += " --state ESTABLISHED"
	}
	return s + " -u ASSURED >/dev/null"
}

// ctMadeTable: entries of the UDP service 10.99.1.1:5000 to servers A
// (10.97.0.2:5000), B (10.97.0.3:5000) and C (10.97.0.4:5001), each of
// the others differing from one of A's in one field, and IPv6 entries of
// [fd00::1]:5000.
var ctMadeTable = []ctMade{
	{"udp", "10.99.0.2:44001", "10.99.1.1:5000", "10.97.0.2:5000"}, // A
	{"udp", "10.99.0.3:44002", "10.99.1.1:5000", "10.97.0.2:5000"}, // A, another client
	{"udp", "10.99.0.2:44003", "10.99.1.1:5000", "10.97.0.3:5000"}, // B
	{"udp", "10.99.0.2:44004", "10.99.1.1:5000", "10.97.0.4:5001"}, // C
	{"udp", "10.99.0.2:44005", "10.99.1.1:5000", "10.97.0.2:5001"}, // A's address, another port
	{"tcp", "10.99.0.2:44006", "10.99.1.1:5000", "10.97.0.2:5000"}, // another protocol
	{"udp", "10.99.0.2:44007", "10.99.1.2:5000", "10.97.0.2:5000"}, // another virtual address
	{"udp", "10.99.0.2:44008", "10.99.1.1:5001", "10.97.0.2:5000"}, // another virtual port
	{"udp", "10.99.0.2:44009", "10.99.1.1:5000", "10.99.1.1:5000"}, // not forwarded
	{"udp", "[fd00::2]:44001", "[fd00::1]:5000", "[fd01::2]:5000"},
	{"udp", "[fd00::3]:44002", "[fd00::1]:5000", "[fd01::3]:5000"},
	{"udp", "[fd00::2]:44003", "[fd00::9]:5000", "[fd01::2]:5000"}, // another virtual address
}

func ctFilterOf(virtual, real string) ipvs.ConntrackFilter {
	v, r := netip.MustParseAddrPort(virtual), netip.MustParseAddrPort(real)
	return ipvs.ConntrackFilter{Service: ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: v.Addr(), Port: v.Port()},
		Destination: ipvs.Destination{Address: r.Addr(), Port: r.Port()}}
}

func TestKernelFlushConntrackFilters(t *testing.T) {
	vA, v6 := "10.99.1.1:5000", "[fd00::1]:5000"
	cases := []struct {
		name    string
		filters []ipvs.ConntrackFilter
		gone    []int // indexes into ctMadeTable
	}{
		{"one server", []ipvs.ConntrackFilter{ctFilterOf(vA, "10.97.0.2:5000")}, []int{0, 1}},
		{"two servers", []ipvs.ConntrackFilter{ctFilterOf(vA, "10.97.0.2:5000"), ctFilterOf(vA, "10.97.0.3:5000")}, []int{0, 1, 2}},
		{"another port", []ipvs.ConntrackFilter{ctFilterOf(vA, "10.97.0.4:5001")}, []int{3}},
		{"ipv6", []ipvs.ConntrackFilter{ctFilterOf(v6, "[fd01::2]:5000")}, []int{9}},
		{"both families", []ipvs.ConntrackFilter{ctFilterOf(vA, "10.97.0.2:5000"), ctFilterOf(v6, "[fd01::3]:5000")}, []int{0, 1, 10}},
	}
	var inserts []string
	for _, e := range ctMadeTable {
		inserts = append(inserts, e.insert())
	}
	for _, kernelFilter := range []bool{true, false} {
		for _, tt := range cases {
			t.Run(fmt.Sprintf("kernel-filter=%v/%s", kernelFilter, tt.name), func(t *testing.T) {
				ns, c := newClient(t)
				ns.sh(strings.Join(inserts, " && "))
				before := conntrackList(t, ns)
				if len(before) != len(ctMadeTable) {
					t.Fatalf("conntrack -L shows %d entries, want the %d made:\n%v", len(before), len(ctMadeTable), before)
				}
				old := ipvs.SetConntrackKernelFilter(kernelFilter)
				n, err := c.FlushConntrack(ctxT(t), tt.filters...)
				ipvs.SetConntrackKernelFilter(old)
				must(t, err)
				if n != len(tt.gone) {
					t.Errorf("flushed %d, want %d", n, len(tt.gone))
				}
				after := conntrackList(t, ns)
				for i, e := range ctMadeTable {
					left := slices.ContainsFunc(after, func(x ctEntry) bool {
						return x.proto == e.proto && x.client == netip.MustParseAddrPort(e.client) && x.virtual == netip.MustParseAddrPort(e.virtual)
					})
					if want := !slices.Contains(tt.gone, i); left != want {
						t.Errorf("entry %v: left %v, want %v", e, left, want)
					}
				}
			})
		}
	}
}

// TestKernelConntrackFilterIPv6 pins why the flush never asks the kernel
// to filter IPv6 addresses: ctnetlink's CTA_FILTER compares them with
// ipv6_addr_cmp, which is 0 when they are equal, as if it were
// ipv6_addr_equal, so a filter on an IPv6 address drops exactly the
// entries that have it. Debian's 6.12 has the fix (ipv6_addr_equal);
// its 5.10, 6.1 and 7.2 do not. IPv4 addresses filter as they should
// on all.
func TestKernelConntrackFilterIPv6(t *testing.T) {
	ns := newNetNS(t)
	ns.sh(ctMadeTable[0].insert() + " && " + ctMadeTable[9].insert())
	count := func(f ipvs.ConntrackFilter) int {
		var n int
		must(t, ns.in(func() error {
			var err error
			n, err = ipvs.DumpConntrackFiltered(ctxT(t), f)
			return err
		}))
		return n
	}
	if n := count(ctFilterOf("10.99.1.1:5000", "10.97.0.2:5000")); n != 1 {
		t.Errorf("an IPv4 filter let %d entries through, want its 1", n)
	}
	got := count(ctFilterOf("[fd00::1]:5000", "[fd01::2]:5000"))
	fixed := kernelRelease(6, 12)
	t.Logf("an IPv6 address filter let %d of 1 matching entries through", got)
	if want := map[bool]int{true: 1, false: 0}[fixed]; got != want {
		t.Errorf("an IPv6 address filter let %d matching entries through, want %d on this kernel: "+
			"its CTA_FILTER changed; update this pin, and the flush's dumpFilter may filter IPv6 addresses where it is right", got, want)
	}
}

// kernelRelease reports whether the running kernel is major.minor.
func kernelRelease(major, minor int) bool {
	return kernelAtLeast(major, minor) && !kernelAtLeast(major, minor+1)
}
