package main

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
	"github.com/ipvs-go/ipvs/internal/identitycases"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// TestChecksBeforeWriting: a value the library refuses, or a scheduler
// the kernel has no module for, stops a restore or an apply before its
// first write, naming the line.
func TestChecksBeforeWriting(t *testing.T) {
	rr := map[string]bool{"ip_vs_rr": true, "ip_vs_pe_sip": true}
	for _, tt := range []struct {
		name    string
		modules map[string]bool
		stdin   string
		args    []string
		want    string
	}{
		{"thresholds", nil, "-A -t 10.0.0.9:80 -s rr\n-a -t 10.0.0.9:80 -r 10.1.0.9 -m -x 10 -y 20\n-D -t 10.0.0.1:80\n", []string{"-R"},
			"line 2: invalid destination lower threshold: 20 is above the upper threshold 10 (the kernel refuses this even when the upper one is 0) (nothing was changed)\n"},
		{"scheduler", rr, "-D -t 10.0.0.1:80\n-A -t 10.0.0.9:80 -s nosuch\n", []string{"-R"},
			"line 2: scheduler \"nosuch\": this kernel has no module ip_vs_nosuch (nothing was changed)\n"},
		{"engine", rr, "-D -t 10.0.0.1:80\n-A -u 10.0.0.9:53 -s rr -p 60 --pe nosip\n", []string{"-R"},
			"line 2: persistence engine \"nosip\": this kernel has no module ip_vs_pe_nosip (nothing was changed)\n"},
		{"apply", nil, "services:\n- {family: ipv4, protocol: tcp, address: 10.0.0.9, port: 80, scheduler: rr,\n   destinations: [{address: 10.1.0.9, port: 80, forward: masq, weight: 4294967295}]}\n" + keep(4)[len("services:\n"):],
			[]string{"apply", "-f", "-"}, "-: line 3: invalid destination weight: 4294967295 is more than 2147483647 (nothing was changed)\n"},
		{"apply scheduler", rr, strings.Replace(keep(4), "scheduler: rr", "scheduler: wrr", 1), []string{"apply", "-f", "-"},
			"-: line 2: scheduler \"wrr\": this kernel has no module ip_vs_wrr (nothing was changed)\n"},
	} {
		f := fakeWith(t, fourServices)
		before := mustCtl(t, f, "", "-Sn")
		r := ctlModules(t, context.Background(), f, tt.modules, bytesReader(tt.stdin), tt.args...)
		if r.code != 2 || r.stderr != tt.want {
			t.Errorf("%s: status %d, %q\nwant 2, %q", tt.name, r.code, r.stderr, tt.want)
		}
		if after := mustCtl(t, f, "", "-Sn"); after != before {
			t.Errorf("%s: the table changed:\n%s\nwas:\n%s", tt.name, after, before)
		}
	}
	// A scheduler in use is known to be there; where the modules cannot
	// be known, the kernel's refusal comes per change, after the rest.
	f := fakeWith(t, fourServices)
	mustCtl(t, f, "-A -t 10.0.0.8:80 -s rr\n", "-R")
	if r := ctlModules(t, context.Background(), f, map[string]bool{}, bytesReader("-A -t 10.0.0.9:80 -s rr\n"), "-R"); r.code != 0 {
		t.Errorf("a scheduler in use: status %d, %q", r.code, r.stderr)
	}
	r := ctl(t, f, bytesReader("-D -t 10.0.0.1:80\n-A -t 10.0.0.7:80 -s nosuch\n"), "-R")
	if r.code != 255 || !strings.Contains(r.stderr, "create service tcp 10.0.0.7:80") {
		t.Errorf("an unknown scheduler, modules not known: status %d, %q", r.code, r.stderr)
	}
}

// TestRestoreIdentity restores the cases of the shared identity table
// that ipvsadm's syntax can write, and wants the keys the library wants:
// of each parsed line, of the table the kernel then holds, and of a
// second restore of the same lines, which plans nothing.
func TestRestoreIdentity(t *testing.T) {
	cases := identitycases.Load(t)
	var lines strings.Builder
	var used []identitycases.Case
	for _, c := range cases {
		svc, dst, why := restoreLines(c)
		if why != "" {
			t.Logf("%s: not in ipvsadm's syntax: %s", c.Name, why)
			continue
		}
		for _, l := range []string{svc, dst} {
			cmd := &cli.Command{}
			if err := cli.ParseRestoreTo(cmd, append([]string{"ipvsctl"}, strings.Fields(l)...)); err != nil {
				t.Fatalf("%s: %q: %v", c.Name, l, err)
			}
			if got := cmd.Service.Key(); got != c.Key {
				t.Errorf("%s: %q reads as %v, want %v", c.Name, l, got, c.Key)
			}
		}
		lines.WriteString(svc + "\n" + dst + "\n")
		used = append(used, c)
	}
	if len(used) < len(cases)/2 {
		t.Fatalf("only %d of %d cases in ipvsadm's syntax", len(used), len(cases))
	}
	f := ipvstest.NewFake()
	mustCtl(t, f, lines.String(), "-R")
	table := map[ipvs.ServiceKey]ipvs.VirtualServer{}
	for _, v := range f.VirtualServers() {
		table[v.Service.Key()] = v
	}
	for _, c := range used {
		v, ok := table[c.Key]
		switch {
		case !ok:
			t.Errorf("%s: no service %v in the table after -R", c.Name, c.Key)
		case len(v.Destinations) != 1 || v.Destinations[0].Key(c.Key) != c.DestinationKey:
			t.Errorf("%s: destinations %+v, want one keyed %v", c.Name, v.Destinations, c.DestinationKey)
		case c.Key.String() != c.Text:
			t.Errorf("%s: %q, want %q", c.Name, c.Key, c.Text)
		}
	}
	if plan := mustCtl(t, f, lines.String(), "-R", "--dry-run"); plan != "" {
		t.Errorf("the same lines again plan:\n%s", plan)
	}
}

// restoreLines writes a case as an -A and an -a line, or says why
// ipvsadm's syntax cannot: it takes a family from an address's text
// (::ffff:10.0.0.1 is IPv6) and has no zone.
func restoreLines(c identitycases.Case) (svc, dst, why string) {
	textFamily := func(a netip.Addr) ipvs.Family {
		if a.Is4() {
			return ipvs.FamilyIPv4
		}
		return ipvs.FamilyIPv6
	}
	hostPort := func(a netip.Addr, port uint16) string {
		if port == 0 {
			return a.String() // ipvsadm reads [addr] only with a port
		}
		return netip.AddrPortFrom(a, port).String()
	}
	s, d := c.Service, c.Destination
	var name string
	switch {
	case s.FWMark != 0:
		name = "-f " + strconv.FormatUint(uint64(s.FWMark), 10)
		if c.Key.Family == ipvs.FamilyIPv6 {
			name += " -6"
		}
	case s.Address.Zone() != "":
		return "", "", "a zone"
	case textFamily(s.Address) != c.Key.Family:
		return "", "", "the service's address reads as " + textFamily(s.Address).String()
	default:
		flag := map[ipvs.Protocol]string{ipvs.ProtocolTCP: "-t", ipvs.ProtocolUDP: "-u", ipvs.ProtocolSCTP: "--sctp-service"}[s.Protocol]
		name = flag + " " + hostPort(s.Address, s.Port)
	}
	if textFamily(d.Address) != textFamily(c.DestinationKey.Addr()) {
		return "", "", "the destination's address reads as " + textFamily(d.Address).String()
	}
	fwd := map[ipvs.ForwardMethod]string{ipvs.ForwardMasquerade: "-m", ipvs.ForwardTunnel: "-i", ipvs.ForwardDirectRoute: "-g"}[d.Forward]
	return "-A " + name + " -s rr", "-a " + name + " -r " + hostPort(d.Address, d.Port) + " " + fwd, ""
}
