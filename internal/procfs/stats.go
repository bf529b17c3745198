package procfs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// StatsFile holds the IPVS totals of the namespace of the thread that
// opens it: /proc/net/ip_vs_stats, ip_vs_ctl.c's ip_vs_stats_show.
const StatsFile = "/proc/thread-self/net/ip_vs_stats"

// Stats are the namespace's totals as ip_vs_stats prints them: the
// counters of every packet IPVS forwarded, for services since removed
// too, and the kernel's rate estimates over them. Its fields are
// ipvs.Stats', in that order, which it becomes.
type Stats struct {
	Connections, InPackets, OutPackets, InBytes, OutBytes                uint64
	ConnectionRate, InPacketRate, OutPacketRate, InByteRate, OutByteRate uint64
}

// The file's lines: two header lines over the counters, an empty line,
// one header line over the rates.
//
// Linux 4.1 (commit cd67cd5eb25, "ipvs: use 64-bit rates in stats") made
// every value 64-bit and prints them with %8LX and %16LX; before, the
// connection and packet counters and the rates were 32-bit, printed with
// %8X and %16X, and wrapped. The widths are minimums, so a 64-bit value
// past 8 digits widens its column: the columns are told apart by the
// spaces between them, never by position.
var (
	statsHeader = [2][]string{
		{"Total", "Incoming", "Outgoing", "Incoming", "Outgoing"},
		{"Conns", "Packets", "Packets", "Bytes", "Bytes"},
	}
	ratesHeader = []string{"Conns/s", "Pkts/s", "Pkts/s", "Bytes/s", "Bytes/s"}
)

// statsColumns name the values in errors, after their headers.
var statsColumns = [2][5]string{
	{"Total Conns", "Incoming Packets", "Outgoing Packets", "Incoming Bytes", "Outgoing Bytes"},
	{"Conns/s", "Incoming Pkts/s", "Outgoing Pkts/s", "Incoming Bytes/s", "Outgoing Bytes/s"},
}

// maxStatsText bounds what ReadStats reads: the kernel prints fewer than
// 400 bytes, all 64-bit values at their widest.
const maxStatsText = 4 << 10

// ReadStats returns the text of the file at path, at most maxStatsText
// bytes of it; more is an error.
func ReadStats(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxStatsText+1))
	if err == nil && len(b) > maxStatsText {
		err = fmt.Errorf("%s: %w", path, invalidText(fmt.Sprintf("longer than %d bytes", maxStatsText)))
	}
	return b, err
}

// ParseStats parses the text of ip_vs_stats. An error names the line
// and, for a value, its column (a *FieldError), and matches
// os.ErrInvalid.
func ParseStats(text []byte) (Stats, error) {
	var s Stats
	lines := bytes.Split(text, []byte("\n"))
	if n := len(lines); n > 0 && len(lines[n-1]) == 0 {
		lines = lines[:n-1] // the final newline
	}
	want := []func(line []byte) error{
		func(line []byte) error { return statsHeaderLine(line, statsHeader[0]) },
		func(line []byte) error { return statsHeaderLine(line, statsHeader[1]) },
		func(line []byte) error {
			return statsValues(line, 0, &s.Connections, &s.InPackets, &s.OutPackets, &s.InBytes, &s.OutBytes)
		},
		func(line []byte) error { return statsHeaderLine(line, nil) },
		func(line []byte) error { return statsHeaderLine(line, ratesHeader) },
		func(line []byte) error {
			return statsValues(line, 1, &s.ConnectionRate, &s.InPacketRate, &s.OutPacketRate, &s.InByteRate, &s.OutByteRate)
		},
	}
	if len(lines) != len(want) {
		return Stats{}, fmt.Errorf("ip_vs_stats: %w", invalidText(fmt.Sprintf("%d lines, not %d", len(lines), len(want))))
	}
	for i, parse := range want {
		if err := parse(lines[i]); err != nil {
			return Stats{}, fmt.Errorf("ip_vs_stats line %d: %w", i+1, err)
		}
	}
	return s, nil
}

// statsHeaderLine checks a line of headers, whose words are want (none:
// an empty line).
func statsHeaderLine(line []byte, want []string) error {
	words := bytes.Fields(line)
	ok := len(words) == len(want)
	for i := 0; ok && i < len(want); i++ {
		ok = string(words[i]) == want[i]
	}
	if !ok {
		return invalidText(fmt.Sprintf("%.*q is not the header %q", maxQuoted, line, strings.Join(want, " ")))
	}
	return nil
}

// statsValues parses a line of five hex values into dst; row says which
// line of values it is, for the columns' names.
func statsValues(line []byte, row int, dst ...*uint64) error {
	words := bytes.Fields(line)
	if len(words) != len(dst) {
		return invalidText(fmt.Sprintf("%d values, not %d", len(words), len(dst)))
	}
	for i, w := range words {
		v, ok := parseHex64(w)
		if !ok {
			return columnError(statsColumns[row][i], w, "is not a hex number of at most 16 digits")
		}
		*dst[i] = v
	}
	return nil
}

// parseHex64 parses 1 to 16 hex digits, of either case.
func parseHex64(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	n := len(b) - min(8, len(b)) // the digits above the low 32 bits
	hi, ok := parseHex(b[:n], n)
	lo, ok2 := parseHex(b[n:], len(b)-n)
	return uint64(hi)<<32 | uint64(lo), ok && ok2
}

// invalidText is a line of ip_vs_stats that is not as the kernel prints
// it. It matches os.ErrInvalid, as a FieldError does.
type invalidText string

func (e invalidText) Error() string { return string(e) }

// Is reports whether target is os.ErrInvalid.
func (e invalidText) Is(target error) bool { return target == os.ErrInvalid }
