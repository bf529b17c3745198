package cli

import (
	"strings"
	"testing"
)

// scanAll returns what the scanner reads of argv, token by token, then
// its error or plain words.
func scanAll(argv []string, simple, noOptional bool) []string {
	s := &scanner{table: optionIndex, argv: argv, simple: simple, noOptional: noOptional}
	var out []string
	for {
		t, ok, err := s.nextToken()
		if err != nil {
			return append(out, "error "+err.Error())
		}
		if !ok {
			return append(out, "rest "+strings.Join(s.rest, " "))
		}
		sp := "<nil>"
		if t.spec != nil {
			sp = t.spec.long
		}
		out = append(out, sp+" "+t.text+" "+t.value+" "+map[bool]string{true: "arg", false: "no arg"}[t.hasArg])
	}
}

// checkSimpleWords fails if the scanner reads argv's words otherwise
// when simpleWords allows its way of reading them.
func checkSimpleWords(t *testing.T, line string) {
	argv := strings.Fields(line)
	if !simpleWords(optionIndex, argv) {
		return
	}
	for _, noOptional := range []bool{false, true} {
		got, want := scanAll(argv, true, noOptional), scanAll(argv, false, noOptional)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%q: read as\n%s\nwant\n%s", line, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

var simpleLines = []string{
	"-A -t 10.0.0.1:80 -s rr",
	"-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -m -w 1",
	"-a -u [2001:db8::1]:53 -r [2001:db8::2]:53 -i -w 65535 -x 5 -y 2",
	"-A -f 7 -s wlc -p 300 -M 255.255.255.0",
	"-A -t 10.0.0.1:80 -s -w",
	"-a -t 10.0.0.1:80 -r -m -w",
	"-A -t 10.0.0.1:80 -p",
	"-L -n -p",
	"-Ln",
	"-w5 -A",
	"--weight=1 -A",
	"-- -A",
	"- -A",
	"-A -t",
	"-A -Z 1",
	"-D -t 10.0.0.1:80",
	"--set 1 2 3",
	"-R -C -S -Z",
}

func TestSimpleWords(t *testing.T) {
	simple := 0
	for _, line := range simpleLines {
		if simpleWords(optionIndex, strings.Fields(line)) {
			simple++
		}
		checkSimpleWords(t, line)
	}
	for _, r := range refusals {
		checkSimpleWords(t, r.args)
	}
	// The first lines are a save's; the scanner must take its way for
	// them, or the comparison above compares nothing.
	if !simpleWords(optionIndex, strings.Fields(simpleLines[0])) || !simpleWords(optionIndex, strings.Fields(simpleLines[1])) || simple < 5 {
		t.Errorf("simpleWords allows %d of the lines, not the save's", simple)
	}
}

func FuzzSimpleWords(f *testing.F) {
	for _, line := range simpleLines {
		f.Add(line)
	}
	f.Fuzz(checkSimpleWords)
}

// TestStringToNumber: the words of digits alone read as strtol reads
// them, as every other word does.
func TestStringToNumber(t *testing.T) {
	for _, tc := range []struct {
		s  string
		n  int64
		ok bool
	}{
		{"0", 0, true}, {"007", 7, true}, {"65535", 65535, true}, {"65536", 0, false}, {"", 0, false},
		{" 12", 12, true}, {"+12", 12, true}, {"-1", 0, false}, {"1x", 0, false},
		{"999999999999999999", 0, false}, {"99999999999999999999", 0, false},
	} {
		if n, ok := stringToNumber(tc.s, 0, 65535); n != tc.n || ok != tc.ok {
			t.Errorf("%q: %d %v, want %d %v", tc.s, n, ok, tc.n, tc.ok)
		}
	}
	if n, ok := stringToNumber("999999999999999999", 0, 1<<62); n != 999999999999999999 || !ok {
		t.Errorf("18 digits: %d %v", n, ok)
	}
}
