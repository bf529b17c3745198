package reconcile

import (
	"slices"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
)

func TestDiff(t *testing.T) {
	a, b := tcp("10.0.0.1", 80), udp("10.0.0.2", 53)
	prev := readBack([]ipvs.VirtualServer{
		vs(a, dst("10.1.0.1:80", 1), dst("10.1.0.2:80", 1)),
		vs(b, dst("10.1.0.1:53", 1)),
	})
	a2 := a
	a2.Scheduler = "wlc"
	next := readBack([]ipvs.VirtualServer{
		vs(a2, conns(dst("10.1.0.1:80", 0), 4, 4, 0), dst("10.1.0.3:80", 1)),
		vs(tcp("10.0.0.3", 80), dst("10.1.0.1:80", 1)),
	})
	var got []string
	for _, e := range Diff(prev, next) {
		got = append(got, e.String())
	}
	want := []string{
		`service changed tcp 10.0.0.1:80: scheduler "rr" -> "wlc"`,
		"destination changed 10.1.0.1:80 of tcp 10.0.0.1:80: weight 1 -> 0",
		"destination added 10.1.0.3:80 of tcp 10.0.0.1:80",
		"destination removed 10.1.0.2:80 of tcp 10.0.0.1:80",
		"service added tcp 10.0.0.3:80",
		"destination added 10.1.0.1:80 of tcp 10.0.0.3:80",
		"destination removed 10.1.0.1:53 of udp 10.0.0.2:53",
		"service removed udp 10.0.0.2:53",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Counters and connection counts alone are no differences.
	again := readBack(next)
	again[0].Destinations[0] = conns(again[0].Destinations[0], 0, 0, 9)
	if d := Diff(next, again); len(d) != 0 {
		t.Errorf("Diff of counters: %v", d)
	}
}
