package main

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvstest"
	"github.com/ipvs-go/ipvs/reconcile"
)

// restoreOfGroups is a restore of services × 3 destinations, enough
// for many groups (groupObjects), as ipvsadm -Sn writes it.
func restoreOfGroups(services int) string {
	var b strings.Builder
	for i := range services {
		s := fmt.Sprintf("-t 10.1.%d.%d:80", i>>8, i&255)
		fmt.Fprintf(&b, "-A %s -s rr\n", s)
		for j := 1; j <= 3; j++ {
			fmt.Fprintf(&b, "-a %s -r 172.16.0.%d:8080 -m -w 1\n", s, j)
		}
	}
	return b.String()
}

// TestSendFallsBack: when a write of a group's batch fails, the group
// goes through the plan's Apply, which takes what the batch created as
// done, and sends the rest: a refusal that does not last leaves the
// whole table written, in a group some way into the restore, while the
// groups after it are planned.
func TestSendFallsBack(t *testing.T) {
	const services = 3000
	input := restoreOfGroups(services)
	f := ipvstest.NewFake()
	f.Inject(ipvstest.Fault{Op: ipvstest.OpCreateDestination, Service: "tcp 10.1.7.208:80", Destination: "172.16.0.2:8080",
		Times: 1, Errno: syscall.EINVAL})
	if r := ctl(t, f, bytesReader(input), "-R"); r.code != 0 || r.stderr != "" {
		t.Fatalf("-R: status %d: %s", r.code, r.stderr)
	}
	if got, want := mustCtl(t, f, "", "-Sn"), mustCtl(t, fakeWith(t, input), "", "-Sn"); got != want {
		t.Errorf("the table differs from the input's (%d lines against %d)", strings.Count(got, "\n"), strings.Count(want, "\n"))
	}
}

// TestSendReportsRefusals: a write the kernel keeps refusing is reported
// as the plan's Apply reports it, once, and the other writes are made.
func TestSendReportsRefusals(t *testing.T) {
	input := restoreOfGroups(1000)
	f := ipvstest.NewFake()
	f.Inject(ipvstest.Fault{Op: ipvstest.OpCreateDestination, Service: "tcp 10.1.2.100:80", Destination: "172.16.0.3:8080",
		Errno: syscall.EINVAL})
	r := ctl(t, f, bytesReader(input), "-R")
	if r.code != 255 || strings.Count(r.stderr, "\n") != 1 ||
		!strings.HasPrefix(r.stderr, "reconcile: 1 of ") || !strings.Contains(r.stderr, "create destination 172.16.0.3:8080 of tcp 10.1.2.100:80") {
		t.Fatalf("-R: status %d: %s", r.code, r.stderr)
	}
	got, want := mustCtl(t, f, "", "-Sn"), mustCtl(t, fakeWith(t, input), "", "-Sn")
	if missing := "-a -t 10.1.2.100:80 -r 172.16.0.3:8080 -m -w 1\n"; got != strings.Replace(want, missing, "", 1) {
		t.Errorf("the table is not the input's less the refused destination (%d lines against %d)", strings.Count(got, "\n"), strings.Count(want, "\n"))
	}
}

// TestCreations: a group of services the kernel's table lacks is encoded
// as the plan's Apply encodes it, change by change: the same changes, in
// the same order and form.
func TestCreations(t *testing.T) {
	a := netip.MustParseAddr
	want := []ipvs.VirtualServer{
		{Service: ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: a("10.0.0.1"), Port: 80, Scheduler: "rr"},
			Destinations: []ipvs.Destination{{Address: a("10.1.0.1"), Forward: ipvs.ForwardDirectRoute, Weight: 1},
				{Address: a("::ffff:10.1.0.2"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 3, UpperThreshold: 9}}},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv6, Protocol: ipvs.ProtocolUDP, Address: a("2001:db8::1"), Port: 53, Scheduler: "wlc",
			Flags: ipvs.FlagPersistent | ipvs.FlagHashed, Timeout: 300 * time.Second}},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, FWMark: 7, Scheduler: "sh", Flags: ipvs.FlagSched1, Stats: ipvs.Stats{Connections: 5}},
			Destinations: []ipvs.Destination{{Address: a("10.1.0.3"), Forward: ipvs.ForwardTunnel, TunnelType: ipvs.TunnelGUE, TunnelPort: 6080,
				Weight: 2, ActiveConnections: 4}}},
	}
	p, err := reconcile.Compute(nil, want, reconcile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []reconcile.Change
	creations(want, func(svc ipvs.Service, d *ipvs.Destination) {
		c := reconcile.Change{Kind: reconcile.KindCreateService, Service: svc}
		if d != nil {
			c.Kind, c.Destination = reconcile.KindCreateDestination, *d
		}
		got = append(got, c)
	})
	changes := p.Changes()
	if len(got) != len(changes) {
		t.Fatalf("%d creations, the plan has %d changes", len(got), len(changes))
	}
	for i := range changes {
		c := changes[i]
		c.Reason = ""
		if !reflect.DeepEqual(got[i], c) {
			t.Errorf("creation %d:\n%+v\nthe plan's:\n%+v", i, got[i], c)
		}
	}
}
