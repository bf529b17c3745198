package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/ipvstest"
)

const fourServices = `-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m
-A -t 10.0.0.2:80 -s rr
-a -t 10.0.0.2:80 -r 10.1.0.2:80 -m
-A -t 10.0.0.3:80 -s rr
-a -t 10.0.0.3:80 -r 10.1.0.3:80 -m
-A -t 10.0.0.4:80 -s rr
-a -t 10.0.0.4:80 -r 10.1.0.4:80 -m
`

// keep is an apply file with the first n services of fourServices.
func keep(n int) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 1; i <= n; i++ {
		b.WriteString(strings.NewReplacer("N", string(rune('0'+i))).Replace(`- {family: ipv4, protocol: tcp, address: 10.0.0.N, port: 80, scheduler: rr,
   destinations: [{address: 10.1.0.N, port: 80, forward: masq, weight: 1}]}
`))
	}
	return b.String()
}

// TestApplyRefusesEmpty: a file that names no services, with --own all,
// is refused unless --allow-removal, and --dry-run says so.
func TestApplyRefusesEmpty(t *testing.T) {
	for _, in := range []string{"", "# nothing\n", "null\n", "---\n", "{}\n", "services: []\n", `{"services": null}`} {
		f := fakeWith(t, fourServices)
		r := ctl(t, f, bytesReader(in), "apply", "-f", "-")
		if r.code != 2 || !strings.Contains(r.stderr, "--allow-removal") {
			t.Errorf("%q: status %d, %q; want 2 and a refusal naming --allow-removal", in, r.code, r.stderr)
		}
		if n := len(f.VirtualServers()); n != 4 {
			t.Fatalf("%q: the refused apply left %d services of 4", in, n)
		}
		r = ctl(t, f, bytesReader(in), "apply", "-f", "-", "--dry-run")
		if r.code != 0 || !strings.Contains(r.stdout, "remove service tcp 10.0.0.4:80") ||
			!strings.HasPrefix(lastLine(r.stdout), "# apply refuses this plan without --allow-removal") {
			t.Errorf("%q --dry-run: status %d, %q", in, r.code, r.stdout)
		}
		mustCtl(t, f, in, "apply", "-f", "-", "--own", "listed")
		if n := len(f.VirtualServers()); n != 4 {
			t.Fatalf("%q --own listed: %d services of 4 left", in, n)
		}
		mustCtl(t, f, in, "apply", "-f", "-", "--allow-removal")
		if n := len(f.VirtualServers()); n != 0 {
			t.Errorf("%q --allow-removal: %d services left", in, n)
		}
	}
}

// TestApplyRemovalThreshold: a plan that takes away more than half of
// the table needs --allow-removal.
func TestApplyRemovalThreshold(t *testing.T) {
	f := fakeWith(t, fourServices)
	// One of four services: 6 of the 8 objects go.
	r := ctl(t, f, bytesReader(keep(1)), "apply", "-f", "-")
	if r.code != 2 || !strings.Contains(r.stderr, "takes away 6 of the 8") || len(f.VirtualServers()) != 4 {
		t.Fatalf("status %d, %q, %d services", r.code, r.stderr, len(f.VirtualServers()))
	}
	// Half of it is not more than half.
	mustCtl(t, f, keep(2), "apply", "-f", "-", "--drain", "remove")
	if n := len(f.VirtualServers()); n != 2 {
		t.Errorf("%d services after removing half", n)
	}
	mustCtl(t, f, keep(1), "apply", "-f", "-", "--allow-removal")
	if n := len(f.VirtualServers()); n != 1 {
		t.Errorf("%d services after --allow-removal", n)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// TestApplyStrict: duplicate keys, unknown fields, keys in another case,
// values of another type and extra documents are refused with their line
// and column, and nothing changes.
func TestApplyStrict(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"services:\n- {family: ipv4, protocol: tcp, address: 10.0.0.9, port: 80, scheduler: rr}\nservices: []\n",
			`-: line 3, column 1: "services" is given twice (first at line 1)`},
		{"services:\n- family: ipv4\n  protocol: tcp\n  address: 10.0.0.9\n  port: 80\n  port: 81\n  scheduler: rr\n",
			`-: line 6, column 3: services[0]: "port" is given twice (first at line 5)`},
		{"services:\n- family: ipv4\n  protocol: tcp\n  address: 10.0.0.9\n  port: 80\n  scheduler: rr\n  destinations:\n  - {address: 10.1.0.1, port: 80, forward: masq, WEIGHT: 3}\n",
			`-: line 8, column 50: services[0].destinations[0]: unknown field "WEIGHT": names are case-sensitive, did you mean "weight"?`},
		{"services:\n- {family: ipv4, protocol: tcp, address: 10.0.0.9, port: 80, scheduler: rr, sched: wrr}\n",
			`-: line 2, column 77: services[0]: unknown field "sched"`},
		{"services:\n- {family: ipv4, protocol: tcp, address: 10.0.0.9, port: \"80\", scheduler: rr}\n",
			`-: line 2, column 58: services[0].port: want a whole number from 0 to 65535, not "80"`},
		{"services:\n- {family: ipv4, protocol: tcp, address: 10.0.0.9, port: 80, scheduler: rr}\n---\nservices: []\n",
			`-: line 3, column 1: a second document: a table file holds one`},
		{`{"services": [{"family": "ipv4", "protocol": "tcp", "address": "10.0.0.9", "port": 80, "scheduler": "rr", "scheduler": "wrr"}]}`,
			`-: line 1, column 107: services[0]: "scheduler" is given twice (first at line 1)`},
		{"services:\n- {family: ipv4, protocol: tcp, address: 10.0.0.9, port: 80, scheduler: rr}\n- {family: ipv4, protocol: tcp, address: 10.0.0.9, port: 80, scheduler: wrr}\n",
			`-: line 3: services[1]: tcp 10.0.0.9:80 is given twice (first at line 2)`},
		{"timeouts: &t {tcp: 1, tcpFin: 2, udp: 3}\nservices: *t\n", `-: line 1, column 11: timeouts: anchors and aliases are not read in a table file`},
	} {
		f := fakeWith(t, fourServices)
		r := ctl(t, f, bytesReader(tt.in), "apply", "-f", "-", "--allow-removal")
		if r.code != 2 || strings.TrimSpace(r.stderr) != tt.want {
			t.Errorf("%q:\nstatus %d, %q\nwant 2, %q", tt.in, r.code, r.stderr, tt.want)
		}
		if n := len(f.VirtualServers()); n != 4 {
			t.Errorf("%q: %d services of 4 left", tt.in, n)
		}
	}
}

// TestApplyWait: with --wait, apply stays until the destinations it
// drains have no connections left, or until --drain-timeout, and then
// removes them.
func TestApplyWait(t *testing.T) {
	two := "services:\n- {family: ipv4, protocol: tcp, address: 10.0.0.1, port: 80, scheduler: rr, destinations: [" +
		"{address: 10.1.0.1, port: 80, forward: masq, weight: 1}, {address: 10.1.0.2, port: 80, forward: masq, weight: 1}]}\n"
	one := strings.Replace(two, ", {address: 10.1.0.2, port: 80, forward: masq, weight: 1}", "", 1)
	for _, timeout := range []bool{false, true} {
		f := ipvstest.NewFake()
		mustCtl(t, f, two, "apply", "-f", "-")
		vs := f.VirtualServers()
		gone := vs[0].Destinations[0]
		if gone.Address.String() != "10.1.0.2" {
			gone = vs[0].Destinations[1]
		}
		if err := f.SetConnections(vs[0].Service, gone, 1, 2, 0); err != nil {
			t.Fatal(err)
		}
		args := []string{"apply", "-f", "-", "--wait"}
		if timeout {
			args = append(args, "--drain-timeout", "50ms")
		} else {
			go func() {
				time.Sleep(100 * time.Millisecond)
				_ = f.SetConnections(vs[0].Service, gone, 0, 0, 0)
			}()
		}
		r := ctl(t, f, bytesReader(one), args...)
		if r.code != 0 || !strings.Contains(r.stderr, "waiting for 1 draining destination(s), 3 connection(s) left") {
			t.Fatalf("timeout %v: status %d, %q", timeout, r.code, r.stderr)
		}
		if ds := f.VirtualServers()[0].Destinations; len(ds) != 1 || ds[0].Address.String() != "10.1.0.1" {
			t.Errorf("timeout %v: destinations after the wait: %+v", timeout, ds)
		}
	}
	// Without --wait, a drain timeout could never fire.
	if r := ctl(t, ipvstest.NewFake(), bytesReader(one), "apply", "-f", "-", "--drain-timeout", "5m"); r.code != 2 || !strings.Contains(r.stderr, "--drain-timeout needs --wait") {
		t.Errorf("--drain-timeout without --wait: status %d, %q", r.code, r.stderr)
	}
}

// TestApplyHelp: apply's --help is its part of the manual, on standard
// output with status 0; a bad option is refused as ipvsctl's are.
func TestApplyHelp(t *testing.T) {
	f := ipvstest.NewFake()
	for _, arg := range []string{"--help", "-h"} {
		r := ctl(t, f, nil, "apply", arg)
		if r.code != 0 || r.stdout != strings.ReplaceAll(applyManual, "PROG", "ipvsctl") || r.stderr != "" {
			t.Errorf("apply %s: status %d, stderr %q, stdout %q", arg, r.code, r.stderr, r.stdout)
		}
	}
	if !strings.Contains(strings.ReplaceAll(manual, "PROG", "ipvsctl"), r(applyManual)) {
		t.Error("the manual does not hold apply's section")
	}
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"apply", "--bogus"}, 255, "--bogus: unknown option\n"},
		{[]string{"apply"}, 2, "apply needs -f FILE (- for standard input)\n"},
		{[]string{"apply", "-f", "x", "--own", "some"}, 2, "illegal --own `some' specified (all or listed)\n"},
		{[]string{"apply", "-f", "x", "--wait", "--dry-run"}, 2, "--wait and --dry-run conflict: a dry run changes nothing to wait for\n"},
	} {
		res := ctl(t, f, nil, tt.args...)
		if res.code != tt.code || res.stderr != tt.msg {
			t.Errorf("%v: status %d, %q; want %d, %q", tt.args, res.code, res.stderr, tt.code, tt.msg)
		}
	}
}

func r(s string) string { return strings.ReplaceAll(s, "PROG", "ipvsctl") }
