package procfs_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/procfs"
)

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
		f    procfs.Format
		want procfs.Conn
	}{
		{"TCP 0A630002 B2E6 0A630101 0050 0A630001 0050 ESTABLISHED     899", procfs.Plain, procfs.Conn{
			Protocol: 6, Client: netip.AddrPortFrom(connV4a, 0xB2E6), Virtual: netip.AddrPortFrom(connV4b, 80),
			Destination: netip.AddrPortFrom(netip.MustParseAddr("10.99.0.1"), 80), State: "ESTABLISHED", Expires: 899 * time.Second}},
		{"UDP 2001:0db8:0000:0000:0000:0000:0000:0002 A000 2001:0db8:0001:0000:0000:0000:0000:0001 13C4 0A630001 13C4 UDP             299 sip abc@host", procfs.Plain, procfs.Conn{
			Protocol: 17, Client: netip.AddrPortFrom(connV6a, 0xA000), Virtual: netip.AddrPortFrom(connV6b, 5060),
			Destination: netip.AddrPortFrom(netip.MustParseAddr("10.99.0.1"), 5060), State: "UDP", Expires: 299 * time.Second,
			PEName: "sip", PEData: "abc@host"}},
		{"IP  0A630000 0000 00000007 0000 2001:0db8:0000:0000:0000:0000:0000:0002 1F40 NONE        SYNC       60", procfs.Sync, procfs.Conn{
			Protocol: 0, Client: netip.AddrPortFrom(netip.MustParseAddr("10.99.0.0"), 0), Virtual: netip.AddrPortFrom(netip.MustParseAddr("0.0.0.7"), 0),
			Destination: netip.AddrPortFrom(connV6a, 8000), State: "NONE", Expires: 60 * time.Second, Synced: true}},
		{"IP_99 0A630002 0001 0A630101 0002 0A630001 0003 ERR!        18446744073709551", procfs.Plain, procfs.Conn{
			Protocol: 99, Client: netip.AddrPortFrom(connV4a, 1), Virtual: netip.AddrPortFrom(connV4b, 2),
			Destination: netip.AddrPortFrom(netip.MustParseAddr("10.99.0.1"), 3), State: "ERR!"}},
	} {
		var got procfs.Conn
		if err := procfs.ParseLine([]byte(tt.line), tt.f, &got); err != nil {
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
		var c procfs.Conn
		err := procfs.ParseLine([]byte(tt.line), procfs.Plain, &c)
		var fe *procfs.FieldError
		if !errors.As(err, &fe) || fe.Column != tt.field || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%q: error %v, want one about column %s", tt.line, err, tt.field)
		}
	}
	var c procfs.Conn
	if err := procfs.ParseLine([]byte(good), procfs.Sync, &c); err == nil {
		t.Errorf("a line of ip_vs_conn parsed as one of ip_vs_conn_sync")
	}
}

// connSeeds are the lines of the tables captured from real kernels.
func connSeeds(tb testing.TB) (lines []string) {
	files, _ := filepath.Glob("../../testdata/connections/*/*.ip_vs_conn*")
	if len(files) == 0 {
		tb.Fatal("no captured tables in the root's testdata/connections")
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
		for _, format := range []procfs.Format{procfs.Plain, procfs.Sync} {
			var c procfs.Conn
			if procfs.ParseLine([]byte(line), format, &c) != nil {
				continue
			}
			again := fakekernel.FormatConn(c, format)
			var c2 procfs.Conn
			if err := procfs.ParseLine([]byte(again), format, &c2); err != nil {
				t.Fatalf("%q parsed, but not its reprint %q: %v", line, again, err)
			}
			if diff := cmp.Diff(c, c2, connCmp); diff != "" {
				t.Fatalf("%q and its reprint %q differ (-first +second):\n%s", line, again, diff)
			}
		}
	})
}

// TestParseErrorsBounded: an error quotes at most a few dozen bytes of a
// bad column, though a line may hold 16 KiB of an engine's data, and says
// which line of which table it is about.
func TestParseErrorsBounded(t *testing.T) {
	good := "TCP 0A630002 B2E6 0A630101 0050 0A630001 0050 ESTABLISHED     899"
	long := good + " " + strings.Repeat("x", 15<<10) // NAME without DATA
	var c procfs.Conn
	err := procfs.ParseLine([]byte(long), procfs.Plain, &c)
	var fe *procfs.FieldError
	if !errors.As(err, &fe) || fe.Column != "PEName" || len(err.Error()) > 200 || !strings.Contains(err.Error(), "(15360 bytes)") {
		t.Fatalf("error of %d bytes: %.300v", len(err.Error()), err)
	}
	plain, sync := fakekernel.ConnTables(sampleConns(4))
	lines := strings.Split(plain, "\n")
	lines[3] = long
	for _, err := range procfs.Scan(context.Background(), strings.NewReader(strings.Join(lines, "\n")), strings.NewReader(sync)) {
		if err == nil {
			continue
		}
		if !strings.HasPrefix(err.Error(), "ip_vs_conn line 4: invalid column PEName") || len(err.Error()) > 250 {
			t.Errorf("error of %d bytes: %.300v", len(err.Error()), err)
		}
		return
	}
	t.Error("no error")
}
