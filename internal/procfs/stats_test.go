package procfs_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs/internal/fakekernel"
	"github.com/ipvs-go/ipvs/internal/procfs"
)

// The header lines of ip_vs_stats, and the file of a fresh namespace, as
// the kernel prints them.
const (
	statsHead  = "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n"
	ratesHead  = " Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n"
	zeros      = "       0        0        0                0                0\n"
	statsFresh = statsHead + zeros + "\n" + ratesHead + zeros
)

func TestParseStats(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		want       procfs.Stats
	}{
		{"a fresh namespace", statsFresh, procfs.Stats{}},
		{"Linux 4.1 and later: 64-bit values widen their columns", statsHead +
			"1FFFFFFFF       2C       1A      10000000000 FFFFFFFFFFFFFFFF\n\n" + ratesHead +
			"       1        A        B              300              FFF\n",
			procfs.Stats{Connections: 1<<33 - 1, InPackets: 44, OutPackets: 26, InBytes: 1 << 40, OutBytes: math.MaxUint64,
				ConnectionRate: 1, InPacketRate: 10, OutPacketRate: 11, InByteRate: 0x300, OutByteRate: 0xFFF}},
		{"before Linux 4.1: 32-bit counters but for the bytes, 32-bit rates", statsHead +
			"FFFFFFFF 7FFFFFFF        0        123456789                0\n\n" + ratesHead +
			"       0        0        0         FFFFFFFF                0\n",
			procfs.Stats{Connections: math.MaxUint32, InPackets: math.MaxInt32, InBytes: 0x123456789, InByteRate: math.MaxUint32}},
		{"lower case, without the final newline", statsHead + zeros + "\n" + ratesHead +
			"       0        0        0                0               ff",
			procfs.Stats{OutByteRate: 255}},
	} {
		got, err := procfs.ParseStats([]byte(tt.text))
		if err != nil || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestParseStatsErrors(t *testing.T) {
	lines := strings.SplitAfter(statsFresh, "\n")
	with := func(i int, line string) string {
		l := append([]string(nil), lines...)
		l[i] = line
		return strings.Join(l, "")
	}
	for _, tt := range []struct {
		name, text, column string
		line               int // 0: the whole file
		msg                string
	}{
		{"empty", "", "", 0, "ip_vs_stats: 0 lines, not 6"},
		{"cut short", strings.Join(lines[:5], ""), "", 0, "ip_vs_stats: 5 lines, not 6"},
		{"a line more", statsFresh + zeros, "", 0, "ip_vs_stats: 7 lines, not 6"},
		{"another header", with(1, "   Conns  Packets  Packets            Bytes\n"), "", 2, "is not the header"},
		{"no empty line", with(3, "x\n"), "", 4, `"x" is not the header ""`},
		{"the rates' header", with(4, "   Conns  Packets  Packets            Bytes            Bytes\n"), "", 5, "is not the header"},
		{"a value less", with(2, "       0        0        0                0\n"), "", 3, "4 values, not 5"},
		{"not hex", with(2, "       0        0       0x                0                0\n"), "Outgoing Packets", 3, `"0x" is not a hex number`},
		{"17 digits", with(5, "       0        0        0                0 10000000000000000\n"), "Outgoing Bytes/s", 6, "at most 16 digits"},
		{"a sign", with(5, "      -1        0        0                0                0\n"), "Conns/s", 6, `"-1"`},
	} {
		_, err := procfs.ParseStats([]byte(tt.text))
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		var fe *procfs.FieldError
		if !errors.Is(err, os.ErrInvalid) || !strings.Contains(err.Error(), tt.msg) ||
			tt.column != "" && (!errors.As(err, &fe) || fe.Column != tt.column) {
			t.Errorf("%s: %v; want one matching os.ErrInvalid that says %q, of column %q", tt.name, err, tt.msg, tt.column)
		}
		if tt.line > 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("ip_vs_stats line %d: ", tt.line)) {
			t.Errorf("%s: %v; want it about line %d", tt.name, err, tt.line)
		}
	}
}

// TestParseStatsQuotesBounded: an error quotes a few dozen bytes of a bad
// line at most.
func TestParseStatsQuotesBounded(t *testing.T) {
	long := strings.Repeat("x", 3000)
	for _, text := range []string{
		strings.Replace(statsFresh, "Outgoing\n", "Outgoing "+long+"\n", 1),
		strings.Replace(statsFresh, "       0\n\n", " "+long+"\n\n", 1),
	} {
		_, err := procfs.ParseStats([]byte(text))
		if err == nil || len(err.Error()) > 250 {
			t.Errorf("error of %d bytes: %.300v", len(err.Error()), err)
		}
	}
}

// statsSeeds are ip_vs_stats as the kernels of the matrix print it (see
// the root's testdata/stats/README).
func statsSeeds(tb testing.TB) map[string]string {
	files, _ := filepath.Glob("../../testdata/stats/linux-*")
	if len(files) == 0 {
		tb.Fatal("no captured ip_vs_stats in the root's testdata/stats")
	}
	seeds := map[string]string{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		seeds[filepath.Base(file)] = string(b)
	}
	return seeds
}

// TestStatsCaptured parses the files the kernels printed, and prints them
// back byte for byte as the fake kernel does.
func TestStatsCaptured(t *testing.T) {
	for name, text := range statsSeeds(t) {
		s, err := procfs.ParseStats([]byte(text))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if s.Connections == 0 || s.InPackets == 0 || s.InBytes == 0 {
			t.Errorf("%s: %+v; the capture has traffic", name, s)
		}
		if again := fakekernel.FormatStats(s); again != text {
			t.Errorf("%s: the fake kernel prints\n%s\nthe kernel printed\n%s", name, again, text)
		}
	}
}

// FuzzStats parses arbitrary files and checks that what parses prints
// back, as the kernel would, to what parses the same.
func FuzzStats(f *testing.F) {
	for _, text := range statsSeeds(f) {
		f.Add(text)
	}
	f.Add(statsFresh)
	f.Fuzz(func(t *testing.T, text string) {
		s, err := procfs.ParseStats([]byte(text))
		if err != nil {
			if !errors.Is(err, os.ErrInvalid) {
				t.Fatalf("%q: %v does not match os.ErrInvalid", text, err)
			}
			return
		}
		again := fakekernel.FormatStats(s)
		s2, err := procfs.ParseStats([]byte(again))
		if err != nil || s2 != s {
			t.Fatalf("%q parsed to %+v, its reprint %q to %+v, %v", text, s, again, s2, err)
		}
	})
}

func TestReadStats(t *testing.T) {
	dir := t.TempDir()
	if _, err := procfs.ReadStats(filepath.Join(dir, "ip_vs_stats")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want os.ErrNotExist", err)
	}
	path := filepath.Join(dir, "big")
	if err := os.WriteFile(path, []byte(strings.Repeat(statsFresh, 20)), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := procfs.ReadStats(path); !errors.Is(err, os.ErrInvalid) || len(b) > 8<<10 {
		t.Errorf("a file of %d bytes: %d bytes read, %v; want an error", 20*len(statsFresh), len(b), err)
	}
	path = filepath.Join(dir, "fresh")
	if err := os.WriteFile(path, []byte(statsFresh), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := procfs.ReadStats(path); err != nil || string(b) != statsFresh {
		t.Errorf("%q, %v", b, err)
	}
}
