package reconcile

import (
	"slices"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
)

// TestConntrackFlushes checks which removals a plan flushes the
// conntrack entries of: masquerading destinations of UDP and SCTP
// services, removed alone or with their service, and no others; and that
// the printout counts them, one line each.
func TestConntrackFlushes(t *testing.T) {
	sctp := udp("10.0.0.3", 9)
	sctp.Protocol = ipvs.ProtocolSCTP
	routed := dst("10.1.0.9:53", 1)
	routed.Forward = ipvs.ForwardDirectRoute
	current := readBack([]ipvs.VirtualServer{
		vs(udp("10.0.0.1", 53), dst("10.1.0.1:53", 1), dst("10.1.0.2:53", 1), routed),
		vs(tcp("10.0.0.2", 80), dst("10.1.0.1:80", 1), dst("10.1.0.2:80", 1)),
		vs(sctp, dst("10.1.0.1:9", 1), dst("10.1.0.2:9", 1)),
	})
	desired := []ipvs.VirtualServer{
		vs(udp("10.0.0.1", 53), dst("10.1.0.1:53", 1)),
		vs(tcp("10.0.0.2", 80), dst("10.1.0.1:80", 1)),
	}
	opts := Options{Drain: func(ipvs.Service) DrainPolicy { return DrainPolicyRemoveAtOnce }}
	if p := mustCompute(t, current, desired, opts); len(p.ConntrackFlushes()) != 0 || strings.Contains(p.String(), "conntrack") {
		t.Fatalf("flushes without the option:\n%s", p)
	}
	opts.FlushConntrack = true
	p := mustCompute(t, current, desired, opts)
	var got []string
	for _, f := range p.ConntrackFlushes() {
		got = append(got, f.String())
		if ch := p.Changes()[f.change]; ch.Kind != KindRemoveDestination && ch.Kind != KindRemoveService {
			t.Errorf("%s follows %s, not a removal", f, ch)
		}
	}
	want := []string{
		"flush conntrack udp 10.0.0.1:53 -> 10.1.0.2:53",
		"flush conntrack sctp 10.0.0.3:9 -> 10.1.0.1:9",
		"flush conntrack sctp 10.0.0.3:9 -> 10.1.0.2:9",
	}
	if !slices.Equal(got, want) {
		t.Errorf("flushes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range want {
		if !strings.Contains(p.String(), "# "+w+"\n") {
			t.Errorf("the printout has no line %q:\n%s", "# "+w, p)
		}
	}
}
