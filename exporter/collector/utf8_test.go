package collector

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ipvs-go/ipvs"
)

// bothPaths scrapes a Collector of src through a pedantic registry and
// through WriteText, and returns both texts without the scrape duration;
// a registry's error or a panic on either path fails the test.
func bothPaths(t *testing.T, src *fakeSource, opts ...Option) (registry, text string) {
	t.Helper()
	c, err := New(src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := WriteText(t.Context(), &got, c); err != nil {
		t.Fatalf("WriteText: %v", err)
	}
	return string(exposition(t, c)), withoutDuration(got.String())
}

// TestLabelValuesNotUTF8 gives every label value the kernel names (a sync
// daemon's interface, a scheduler, a persistence engine, a connection
// state) bytes that are not UTF-8: both paths write each byte that is not
// UTF-8 escaped as \xNN, and agree.
func TestLabelValuesNotUTF8(t *testing.T) {
	src := goldenTable()
	src.daemons[0].Interface = "eth\xff0"
	src.vss[0].Scheduler = "r\xc3r"
	src.vss[2].PersistenceEngine = "s\xe9p"
	src.states = map[string]int{"EST\x80": 2, "NONE": 1}
	for _, opts := range [][]Option{
		{WithConnectionStates()},
		{WithConnectionStates(), WithLabels("protocol", "port"), WithNetNS("x")},
	} {
		registry, text := bothPaths(t, src, opts...)
		if registry != text {
			t.Errorf("WriteText wrote\n%s\nthe registry\n%s", text, registry)
		}
		for _, want := range []string{`interface="eth\\xff0"`, `scheduler="r\\xc3r"`, `persistence_engine="s\\xe9p"`, `state="EST\\x80"`} {
			if !strings.Contains(text, want) {
				t.Errorf("no %s in\n%s", want, text)
			}
		}
	}
}

// TestLabelValueEscapesOnlyWhatIsNotUTF8 checks the escaping itself.
func TestLabelValueEscapesOnlyWhatIsNotUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"":             "",
		"eth0":         "eth0",
		"ünïcødé 🙂":    "ünïcødé 🙂",
		"\xff":         `\xff`,
		"a\xc3":        `a\xc3`,
		"\xed\xa0\x80": `\xed\xa0\x80`, // a surrogate, which UTF-8 forbids
		"é\xe9é":       `é\xe9é`,
		`a\x`:          `a\x`,
	} {
		if got := labelValue(in); got != want {
			t.Errorf("labelValue(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLabelValues scrapes a table whose kernel-named label values are
// arbitrary bytes: neither path panics or fails, and they agree byte for
// byte.
func FuzzLabelValues(f *testing.F) {
	f.Add("eth0", "rr", "sip", "ESTABLISHED", "NONE")
	f.Add("eth\xff0", "r\xc3r", "s\xe9p", "EST\x80", `EST\x80`)
	f.Add("a\"b\\c\nd", "\x00", "", "\xff", "\xfe")
	f.Fuzz(func(t *testing.T, iface, scheduler, pe, state1, state2 string) {
		src := goldenTable()
		src.daemons[0].Interface = iface
		src.daemons = append(src.daemons, ipvs.Daemon{State: ipvs.DaemonBackup, Interface: iface + "\xff"})
		src.vss[0].Scheduler = scheduler
		src.vss[1].PersistenceEngine = pe
		src.states = map[string]int{state1: 1, state2: 2}
		for _, opts := range [][]Option{{WithConnectionStates()}, {WithConnectionStates(), WithLabels("port"), WithNetNS("n")}} {
			registry, text := bothPaths(t, src, opts...)
			if registry != text {
				t.Fatalf("WriteText wrote\n%s\nthe registry\n%s", text, registry)
			}
			if !utf8.ValidString(text) {
				t.Fatalf("not UTF-8:\n%q", text)
			}
			if !strings.Contains(text, "ipvs_connection_table_entries{") {
				t.Fatalf("no connection states in\n%s", text)
			}
		}
	})
}
