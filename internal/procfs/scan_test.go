package procfs_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/procfs"
)

func sampleConns(n int) []procfs.Conn {
	var conns []procfs.Conn
	for i := range n {
		c := procfs.Conn{Protocol: 6, Client: netip.AddrPortFrom(connV4a, uint16(i)), Virtual: netip.AddrPortFrom(connV4b, 80),
			Destination: netip.AddrPortFrom(connV6a, 8080), State: "ESTABLISHED", Expires: time.Duration(i) * time.Second, Synced: i%3 == 0}
		if i%5 == 0 {
			c.PEName, c.PEData = "sip", fmt.Sprintf("call-%d", i)
		}
		conns = append(conns, c)
	}
	return conns
}

func collectConns(t *testing.T, plain, sync io.Reader) ([]procfs.Conn, error) {
	t.Helper()
	var got []procfs.Conn
	for c, err := range procfs.Scan(context.Background(), plain, sync) {
		if err != nil {
			return got, err
		}
		got = append(got, c)
	}
	return got, nil
}

func TestScanConnections(t *testing.T) {
	conns := sampleConns(100)
	plain, sync := fakekernel.ConnTables(conns)
	got, err := collectConns(t, strings.NewReader(plain), strings.NewReader(sync))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(conns, got, connCmp); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}

	// Between the two reads, entries came and went: the origins of the
	// entries in both are found.
	conns = sampleConns(3 * procfs.SyncWindow)
	plain, _ = fakekernel.ConnTables(conns)
	others := sampleConns(2 * procfs.SyncWindow)
	for i := range others {
		others[i].Client = netip.AddrPortFrom(connV6b, uint16(i))
		others[i].Synced = true
	}
	for _, tt := range []struct {
		name   string
		sync   []procfs.Conn
		inSync func(i int) bool
	}{
		{"a few new", slices.Concat(conns[1:3], conns[procfs.SyncWindow:]), func(i int) bool { return i == 1 || i == 2 || i >= procfs.SyncWindow }},
		{"many new", slices.Concat(conns[1:3], conns[2*procfs.SyncWindow:]), func(i int) bool { return i == 1 || i == 2 || i >= 2*procfs.SyncWindow }},
		{"gone", slices.Concat(conns[:10], others[:procfs.SyncWindow-10], conns[10:]), func(int) bool { return true }},
	} {
		_, s := fakekernel.ConnTables(tt.sync)
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
	plain, sync := fakekernel.ConnTables(sampleConns(5))
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
	for _, err := range procfs.Scan(ctx, strings.NewReader(plain), nil) {
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
	f    procfs.Format
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
				c := procfs.Conn{Protocol: 6, Client: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), Virtual: netip.AddrPortFrom(connV4b, 80),
					Destination: netip.AddrPortFrom(connV6a, 8080), State: state, Expires: 899 * time.Second, Synced: o == 1}
				g.lines[st][o] = []byte(fakekernel.FormatConn(c, g.f) + "\n")
			}
		}
		header := procfs.Header
		if g.f == procfs.Sync {
			header = procfs.SyncHeader
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
		_, _ = io.Copy(io.Discard, &connGenTable{f: procfs.Plain, n: n})
		_, _ = io.Copy(io.Discard, &connGenTable{f: procfs.Sync, n: n})
		runtime.ReadMemStats(&b)
		return b.Mallocs - a.Mallocs
	}()
	runtime.ReadMemStats(&before)
	for c, err := range procfs.Scan(context.Background(), &connGenTable{f: procfs.Plain, n: n}, &connGenTable{f: procfs.Sync, n: n}) {
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
