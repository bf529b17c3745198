//go:build linux

package ipvs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// formatConnLine prints c as ip_vs_conn.c's seq_show functions do.
func formatConnLine(c Connection, f connFormat) string {
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
	proto := "IP_" + fmt.Sprint(uint16(c.Protocol))
	for name, p := range connProtocols {
		if p == c.Protocol {
			proto = name
		}
	}
	s := fmt.Sprintf("%-3s %s %04X %s %04X %s %04X %-11s", proto,
		addr(c.Client.Addr()), c.Client.Port(), addr(c.Virtual.Addr()), c.Virtual.Port(),
		addr(c.Destination.Addr()), c.Destination.Port(), c.State)
	secs := int64(c.Expires / time.Second)
	if f == connSync {
		origin := "LOCAL"
		if c.Synced {
			origin = "SYNC"
		}
		return fmt.Sprintf("%s %-6s %7d", s, origin, secs)
	}
	s += fmt.Sprintf(" %7d", secs)
	if c.PersistenceEngine != "" {
		s += " " + c.PersistenceEngine + " " + c.PEData
	}
	return s
}

// connCmp compares netip values by value.
var connCmp = cmpopts.EquateComparable(netip.AddrPort{})

var (
	connV4a = netip.MustParseAddr("10.99.0.2")
	connV4b = netip.MustParseAddr("10.99.1.1")
	connV6a = netip.MustParseAddr("2001:db8::2")
	connV6b = netip.MustParseAddr("2001:db8:1::1")
)

func TestParseConnLine(t *testing.T) {
	for _, tt := range []struct {
		line string
		f    connFormat
		want Connection
	}{
		{"TCP 0A630002 B2E6 0A630101 0050 0A630001 0050 ESTABLISHED     899", connPlain, Connection{
			Protocol: ProtocolTCP, Client: netip.AddrPortFrom(connV4a, 0xB2E6), Virtual: netip.AddrPortFrom(connV4b, 80),
			Destination: netip.AddrPortFrom(netip.MustParseAddr("10.99.0.1"), 80), State: "ESTABLISHED", Expires: 899 * time.Second}},
		{"UDP 2001:0db8:0000:0000:0000:0000:0000:0002 A000 2001:0db8:0001:0000:0000:0000:0000:0001 13C4 0A630001 13C4 UDP             299 sip abc@host", connPlain, Connection{
			Protocol: ProtocolUDP, Client: netip.AddrPortFrom(connV6a, 0xA000), Virtual: netip.AddrPortFrom(connV6b, 5060),
			Destination: netip.AddrPortFrom(netip.MustParseAddr("10.99.0.1"), 5060), State: "UDP", Expires: 299 * time.Second,
			PersistenceEngine: "sip", PEData: "abc@host"}},
		{"IP  0A630000 0000 00000007 0000 2001:0db8:0000:0000:0000:0000:0000:0002 1F40 NONE        SYNC       60", connSync, Connection{
			Protocol: 0, Client: netip.AddrPortFrom(netip.MustParseAddr("10.99.0.0"), 0), Virtual: netip.AddrPortFrom(netip.MustParseAddr("0.0.0.7"), 0),
			Destination: netip.AddrPortFrom(connV6a, 8000), State: "NONE", Expires: 60 * time.Second, Synced: true}},
		{"IP_99 0A630002 0001 0A630101 0002 0A630001 0003 ERR!        18446744073709551", connPlain, Connection{
			Protocol: 99, Client: netip.AddrPortFrom(connV4a, 1), Virtual: netip.AddrPortFrom(connV4b, 2),
			Destination: netip.AddrPortFrom(netip.MustParseAddr("10.99.0.1"), 3), State: "ERR!"}},
	} {
		var got Connection
		if err := parseConnLine([]byte(tt.line), tt.f, &got); err != nil {
			t.Errorf("%q: %v", tt.line, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got, connCmp); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.line, diff)
		}
	}
}

func TestParseConnLineErrors(t *testing.T) {
	good := "TCP 0A630002 B2E6 0A630101 0050 0A630001 0050 ESTABLISHED     899"
	for _, tt := range []struct{ line, field string }{
		{"", "Pro"},
		{"XYZ" + good[3:], "Pro"},
		{"IP_256" + good[3:], "Pro"},
		{strings.Replace(good, "0A630002", "0A63000G", 1), "FromIP"},
		{strings.Replace(good, "B2E6", "B2E", 1), "FPrt"},
		{strings.Replace(good, "0A630101", "2001:0db8:0000:0000:0000:0000:0000:0001", 1), "ToIP"},
		{strings.Replace(good, "0A630001 0050", "0A630001", 1), "DPrt"},
		{strings.Replace(good, " 899", " -1", 1), "Expires"},
		{strings.Replace(good, " 899", " 99999999999999999999999", 1), "Expires"},
		{strings.Replace(good, " ESTABLISHED     899", "", 1), "State"},
		{good + " sip", "PEName"},
		{good + "  sip x", "PEName"},
		{strings.Replace(good, "0A630001", "2001:0db8:0000:0000:0000:0000:0000+0001", 1), "DestIP"},
	} {
		var c Connection
		err := parseConnLine([]byte(tt.line), connPlain, &c)
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != "column "+tt.field {
			t.Errorf("%q: error %v, want one about column %s", tt.line, err, tt.field)
		}
	}
	var c Connection
	if err := parseConnLine([]byte(good), connSync, &c); err == nil {
		t.Errorf("a line of ip_vs_conn parsed as one of ip_vs_conn_sync")
	}
}

// table returns the two tables' text for conns, as the kernel prints them.
func connTables(conns []Connection) (plain, sync string) {
	p, s := []string{connHeader}, []string{connSyncHeader}
	for _, c := range conns {
		p = append(p, formatConnLine(c, connPlain))
		s = append(s, formatConnLine(c, connSync))
	}
	return strings.Join(p, "\n") + "\n", strings.Join(s, "\n") + "\n"
}

func sampleConns(n int) []Connection {
	var conns []Connection
	for i := range n {
		c := Connection{Protocol: ProtocolTCP, Client: netip.AddrPortFrom(connV4a, uint16(i)), Virtual: netip.AddrPortFrom(connV4b, 80),
			Destination: netip.AddrPortFrom(connV6a, 8080), State: "ESTABLISHED", Expires: time.Duration(i) * time.Second, Synced: i%3 == 0}
		if i%5 == 0 {
			c.PersistenceEngine, c.PEData = "sip", fmt.Sprintf("call-%d", i)
		}
		conns = append(conns, c)
	}
	return conns
}

func collectConns(t *testing.T, plain, sync io.Reader) ([]Connection, error) {
	t.Helper()
	var got []Connection
	for c, err := range scanConnections(context.Background(), plain, sync) {
		if err != nil {
			return got, err
		}
		got = append(got, c)
	}
	return got, nil
}

func TestScanConnections(t *testing.T) {
	conns := sampleConns(100)
	plain, sync := connTables(conns)
	got, err := collectConns(t, strings.NewReader(plain), strings.NewReader(sync))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(conns, got, connCmp); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// Between the two reads, entries came and went: the origins of the
	// entries in both are found.
	conns = sampleConns(3 * syncWindow)
	plain, _ = connTables(conns)
	others := sampleConns(2 * syncWindow)
	for i := range others {
		others[i].Client = netip.AddrPortFrom(connV6b, uint16(i))
		others[i].Synced = true
	}
	for _, tt := range []struct {
		name   string
		sync   []Connection
		inSync func(i int) bool
	}{
		{"a few new", slices.Concat(conns[1:3], conns[syncWindow:]), func(i int) bool { return i == 1 || i == 2 || i >= syncWindow }},
		{"many new", slices.Concat(conns[1:3], conns[2*syncWindow:]), func(i int) bool { return i == 1 || i == 2 || i >= 2*syncWindow }},
		{"gone", slices.Concat(conns[:10], others[:syncWindow-10], conns[10:]), func(int) bool { return true }},
	} {
		_, s := connTables(tt.sync)
		got, err := collectConns(t, strings.NewReader(plain), strings.NewReader(s))
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range got {
			if want := conns[i].Synced && tt.inSync(i); c.Synced != want {
				t.Errorf("%s: entry %d: Synced %v, want %v", tt.name, i, c.Synced, want)
			}
		}
	}
}

func TestScanConnectionsErrors(t *testing.T) {
	plain, sync := connTables(sampleConns(5))
	for _, tt := range []struct{ plain, sync, want string }{
		{"", sync, "ip_vs_conn line 1: no header"},
		{strings.Replace(plain, "Expires", "Expiry", 1), sync, "ip_vs_conn line 1: header"},
		{strings.Replace(plain, " 0050 ", " 00x0 ", 3), sync, "ip_vs_conn line 2: invalid column TPrt"},
		{plain, strings.Replace(sync, "LOCAL", "LOCAX", 1), "ip_vs_conn_sync line 3: invalid column Origin"},
		{plain + strings.Repeat("x", 20<<10), sync, "ip_vs_conn line 7: line too long"},
	} {
		_, err := collectConns(t, strings.NewReader(tt.plain), strings.NewReader(tt.sync))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range scanConnections(ctx, strings.NewReader(plain), nil) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v", err)
		}
	}
}

// connGenTable is a reader of a generated table of n entries, made line
// by line as it is read, as the kernel makes it: entry i has client
// 10.i:i, is in TIME_WAIT if i%7 == 0, else ESTABLISHED, and SYNC if i
// is even.
type connGenTable struct {
	f    connFormat
	n, i int
	buf  []byte
	off  int
	// lines are the templates, by state and origin.
	lines [2][2][]byte
}

func (g *connGenTable) Read(p []byte) (int, error) {
	if g.i == 0 {
		for st, state := range []string{"ESTABLISHED", "TIME_WAIT"} {
			for o := range 2 {
				c := Connection{Protocol: ProtocolTCP, Client: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), Virtual: netip.AddrPortFrom(connV4b, 80),
					Destination: netip.AddrPortFrom(connV6a, 8080), State: state, Expires: 899 * time.Second, Synced: o == 1}
				g.lines[st][o] = []byte(formatConnLine(c, g.f) + "\n")
			}
		}
		header := connHeader
		if g.f == connSync {
			header = connSyncHeader
		}
		g.buf = append(g.buf[:0], header+"\n"...)
		g.i = 1
	}
	g.buf, g.off = g.buf[:copy(g.buf, g.buf[g.off:])], 0
	for len(g.buf) < len(p) && g.i <= g.n {
		i := g.i
		line := g.lines[min(i%7, 1)^1][1-i%2]
		start := len(g.buf)
		g.buf = append(g.buf, line...)
		// Client address and port, at columns 4 and 13.
		copy(g.buf[start+4:], fmt.Appendf(nil, "0A%06X %04X", i&0xffffff, uint16(i)))
		g.i++
	}
	if g.off == len(g.buf) {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.off = n
	return n, nil
}

// TestConnectionsMillionFlat streams a million-entry table through the
// parser, side by side with its sync table, and checks that the parser
// allocates nothing per entry: memory stays flat whatever the size.
func TestConnectionsMillionFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("a million lines")
	}
	const n = 1_000_000
	var parsed, synced, timeWait int
	var heapMax uint64
	var before, after, ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	// The generators allocate as they print: count the parser's share by
	// running them alone first.
	genAllocs := func() uint64 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		_, _ = io.Copy(io.Discard, &connGenTable{f: connPlain, n: n})
		_, _ = io.Copy(io.Discard, &connGenTable{f: connSync, n: n})
		runtime.ReadMemStats(&b)
		return b.Mallocs - a.Mallocs
	}()
	runtime.ReadMemStats(&before)
	for c, err := range scanConnections(context.Background(), &connGenTable{f: connPlain, n: n}, &connGenTable{f: connSync, n: n}) {
		if err != nil {
			t.Fatal(err)
		}
		parsed++
		if c.Synced {
			synced++
		}
		if c.State == "TIME_WAIT" {
			timeWait++
		}
		if parsed%100_000 == 0 {
			runtime.ReadMemStats(&ms)
			heapMax = max(heapMax, ms.HeapInuse)
		}
		if want := netip.AddrFrom4([4]byte{10, byte(parsed >> 16), byte(parsed >> 8), byte(parsed)}); c.Client.Addr() != want {
			t.Fatalf("entry %d: client %v, want %v", parsed, c.Client, want)
		}
	}
	runtime.ReadMemStats(&after)
	if parsed != n || synced != n/2 || timeWait != n/7 {
		t.Fatalf("parsed %d, synced %d, TIME_WAIT %d; want %d, %d, %d", parsed, synced, timeWait, n, n/2, n/7)
	}
	parserAllocs := int64(after.Mallocs-before.Mallocs) - int64(genAllocs)
	t.Logf("%d entries: %d allocations by the parser, %d by the generators; heap in use at most %d KiB (%d KiB before)",
		n, parserAllocs, genAllocs, heapMax>>10, before.HeapInuse>>10)
	if parserAllocs > 10_000 {
		t.Errorf("the parser made %d allocations for %d entries: not flat", parserAllocs, n)
	}
	if heapMax > before.HeapInuse+16<<20 {
		t.Errorf("heap in use grew from %d to %d KiB", before.HeapInuse>>10, heapMax>>10)
	}
}

// connSeeds are the lines of the tables captured from real kernels.
func connSeeds(tb testing.TB) (lines []string) {
	files, _ := filepath.Glob("testdata/connections/*/*.ip_vs_conn*")
	if len(files) == 0 {
		tb.Fatal("no captured tables in testdata/connections")
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(b)), "\n")[1:]...)
	}
	return lines
}

// FuzzConnectionLine parses arbitrary lines as both tables' and checks
// that what parses prints back, as the kernel would, to what parses the
// same.
func FuzzConnectionLine(f *testing.F) {
	for _, line := range connSeeds(f) {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, format := range []connFormat{connPlain, connSync} {
			var c Connection
			if parseConnLine([]byte(line), format, &c) != nil {
				continue
			}
			again := formatConnLine(c, format)
			var c2 Connection
			if err := parseConnLine([]byte(again), format, &c2); err != nil {
				t.Fatalf("%q parsed, but not its reprint %q: %v", line, again, err)
			}
			if diff := cmp.Diff(c, c2, connCmp); diff != "" {
				t.Fatalf("%q and its reprint %q differ (-first +second):\n%s", line, again, diff)
			}
		}
	})
}

// The established connections of one service, and where they go.
func ExampleClient_Connections() {
	c, err := New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	svc := Service{Protocol: ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80}
	for conn, err := range c.Connections(context.Background(), ConnectionFilter{Service: svc}) {
		if err != nil {
			log.Fatal(err)
		}
		if conn.State == "ESTABLISHED" {
			fmt.Println(conn.Client, "->", conn.Destination, "expires in", conn.Expires)
		}
	}
}

// How many connections a real server still has, by state: what a drain
// waits for.
func ExampleClient_ConnectionStates() {
	c, err := New(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	states, err := c.ConnectionStates(context.Background(), ConnectionFilter{Destination: netip.MustParseAddrPort("192.168.1.10:80")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(states["ESTABLISHED"], "established,", states["TIME_WAIT"], "in TIME_WAIT")
}

func TestConnMatcher(t *testing.T) {
	ap := netip.MustParseAddrPort
	tcp := Connection{Protocol: ProtocolTCP, Client: ap("10.99.0.2:40000"), Virtual: ap("10.99.1.1:80"), Destination: ap("10.99.0.1:8080")}
	udp6 := Connection{Protocol: ProtocolUDP, Client: ap("[fd00::2]:40000"), Virtual: ap("[fd00:1::1]:53"), Destination: ap("[fd00::1]:53")}
	fwmTemplate := Connection{Client: ap("10.99.0.0:0"), Virtual: ap("0.0.0.7:0"), Destination: ap("10.99.0.1:0"), State: "ASSURED"}
	fwm6Template := Connection{Client: ap("[fd00::]:0"), Virtual: ap("[0:8::]:0"), Destination: ap("[fd00::1]:0")}
	all := []Connection{tcp, udp6, fwmTemplate, fwm6Template}
	fwm := &connMatcher{f: ConnectionFilter{Service: Service{Family: FamilyIPv4, FWMark: 7}},
		dests: map[netip.AddrPort]bool{ap("10.99.0.1:8080"): true}, template: fwmarkTemplateAddr(Service{FWMark: 7})}
	fwm6 := &connMatcher{f: ConnectionFilter{Service: Service{Family: FamilyIPv6, FWMark: 8}},
		dests: map[netip.AddrPort]bool{ap("[fd00::1]:0"): true}, template: fwmarkTemplateAddr(Service{Family: FamilyIPv6, FWMark: 8})}
	for _, tt := range []struct {
		m    *connMatcher
		want []Connection
	}{
		{&connMatcher{}, all},
		{&connMatcher{f: ConnectionFilter{Service: Service{Protocol: ProtocolTCP}}}, []Connection{tcp}},
		{&connMatcher{f: ConnectionFilter{Service: Service{Address: netip.MustParseAddr("10.99.1.1"), Port: 80}}}, []Connection{tcp}},
		{&connMatcher{f: ConnectionFilter{Service: Service{Address: netip.MustParseAddr("10.99.1.1"), Port: 81}}}, nil},
		{&connMatcher{f: ConnectionFilter{Service: Service{Protocol: ProtocolUDP, Address: netip.MustParseAddr("fd00:1::1")}}}, []Connection{udp6}},
		{&connMatcher{f: ConnectionFilter{Destination: ap("10.99.0.1:0")}}, []Connection{tcp, fwmTemplate}},
		{&connMatcher{f: ConnectionFilter{Destination: ap("10.99.0.1:8080")}}, []Connection{tcp}},
		{fwm, []Connection{tcp, fwmTemplate}},
		// A destination of port 0 keeps the packet's port.
		{fwm6, []Connection{udp6, fwm6Template}},
	} {
		var got []Connection
		for _, c := range all {
			if tt.m.match(&c) {
				got = append(got, c)
			}
		}
		if diff := cmp.Diff(tt.want, got, connCmp); diff != "" {
			t.Errorf("filter %+v (-want +got):\n%s", tt.m.f, diff)
		}
	}
}
