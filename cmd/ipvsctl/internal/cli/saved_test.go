package cli

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// checkSaved fails if parseSaved reads line otherwise than parse does in
// a restore; it reports whether parseSaved took the line.
func checkSaved(t *testing.T, line string) bool {
	words := strings.Fields(line)
	var fast, slow Command
	if !parseSaved(&fast, words) {
		if fast != (Command{}) {
			t.Errorf("%q: not taken, and the command changed: %+v", line, fast)
		}
		return false
	}
	if err := parse(&slow, append([]string{"ipvsctl"}, words...), true); err != nil {
		t.Errorf("%q: taken, and parse refuses it: %v", line, err)
	} else if !reflect.DeepEqual(fast, slow) {
		t.Errorf("%q: read as\n%+v\nparse reads\n%+v", line, fast, slow)
	}
	return true
}

// TestParseSaved compares parseSaved with parse on lines of a save's
// shapes, with values at and past every limit, and others near them.
func TestParseSaved(t *testing.T) {
	addrs := []string{"10.0.0.1:80", "10.0.0.1:0", "10.0.0.1:65535", "10.0.0.1:65536", "10.0.0.1:080", "10.0.0.1",
		"010.0.0.1:80", "10.1:80", "255.255.255.255:1", "256.0.0.1:80", "[2001:db8::1]:80", "::1", "localhost:80",
		"10.0.0.1:http", "10.0.0.1:-1", "10.0.0.1:+1", "0.0.0.0:1", "10.0.0.1:99999999999", ":80", "10.0.0.1:"}
	weights := []string{"0", "1", "65535", "65536", "2147483647", "2147483648", "-1", "01", "", "x", "99999999999"}
	scheds := []string{"rr", "wlc", "", "abcdefghijklmno", "abcdefghijklmnop", "-w", "--"}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(l []string) string { return l[r.IntN(len(l))] }
	taken := map[string]int{}
	for range 20000 {
		var line string
		switch r.IntN(3) {
		case 0:
			line = fmt.Sprintf("-A %s %s -s %s", pick([]string{"-t", "-u", "-f", "--tcp-service"}), pick(addrs), pick(scheds))
		case 1:
			line = fmt.Sprintf("-a %s %s -r %s %s -w %s", pick([]string{"-t", "-u", "-f"}), pick(addrs), pick(addrs),
				pick([]string{"-g", "-i", "-m", "-x", "-w"}), pick(weights))
		case 2:
			line = fmt.Sprintf("%s -t %s %s %s %s %s", pick([]string{"-A", "-a", "-E", "-e"}), pick(addrs),
				pick([]string{"-s", "-r", "-w", "-p"}), pick(append(addrs, scheds...)), pick([]string{"-m", "-g", "-w", "-s"}), pick(weights))
		}
		if checkSaved(t, line) {
			taken[strings.Fields(line)[0]]++
		}
	}
	// The comparison above compares something only for the lines it takes.
	if taken["-A"] < 50 || taken["-a"] < 50 {
		t.Errorf("parseSaved took %d -A lines and %d -a lines", taken["-A"], taken["-a"])
	}
}

func FuzzParseSaved(f *testing.F) {
	for _, line := range []string{"-A -t 10.0.0.1:80 -s rr", "-a -u 10.0.0.1:53 -r 10.0.0.2:53 -g -w 1",
		"-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 65536", "-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -i -w 0"} {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) { checkSaved(t, line) })
}
