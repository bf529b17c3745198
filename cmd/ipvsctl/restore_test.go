package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
	"github.com/ipvs-go/ipvs/reconcile"
)

func current() []ipvs.VirtualServer {
	a := netip.MustParseAddr
	return []ipvs.VirtualServer{
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Address: a("10.0.0.1"), Port: 80, Scheduler: "rr", Flags: ipvs.FlagHashed},
			Destinations: []ipvs.Destination{{Address: a("10.1.0.1"), Port: 80, Forward: ipvs.ForwardMasquerade, Weight: 1}}},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolUDP, Address: a("10.0.0.2"), Port: 53, Scheduler: "wlc", Flags: ipvs.FlagHashed},
			Destinations: []ipvs.Destination{{Address: a("10.1.0.2"), Port: 53, Forward: ipvs.ForwardMasquerade, Weight: 1}}},
	}
}

// plan reads a restore's input against the table current() and returns
// its plan, one change a line.
func plan(t *testing.T, input string, flush bool) (string, int, string) {
	t.Helper()
	var errb bytes.Buffer
	e := &env{ctx: context.Background(), program: "ipvsctl", stdin: strings.NewReader(input), out: bufio.NewWriter(&bytes.Buffer{}), errw: &errb}
	d := newDesired(compact(current()), nil, flush)
	code := e.readRestore(d.apply)
	if code != 0 {
		return "", code, errb.String()
	}
	var lines []string
	err := d.plans(compact(current()), reconcile.Options{Owns: d.owns,
		Drain: func(ipvs.Service) reconcile.DrainPolicy { return reconcile.DrainPolicyRemoveAtOnce }}, func(p *reconcile.Plan) error {
		for _, c := range p.Changes() {
			line := c.Kind.String() + " " + c.Service.String()
			if c.Destination.Address.IsValid() {
				line += " " + c.Destination.String()
			}
			lines = append(lines, line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n"), 0, ""
}

func TestRestorePlans(t *testing.T) {
	tests := []struct {
		name, input string
		flush       bool
		want        string
	}{
		{"the same table changes nothing",
			"-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m -w 1\n", false, ""},
		{"services not named stay",
			"ipvsadm -A -t 10.0.0.3:80 -s rr\n", false, "create service tcp 10.0.0.3:80"},
		{"-A names a service's whole set of destinations",
			"-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.9:80 -m\n", false,
			"create destination tcp 10.0.0.1:80 10.1.0.9:80\nremove destination tcp 10.0.0.1:80 10.1.0.1:80"},
		{"-e and -d change the kernel's destinations",
			"-e -t 10.0.0.1:80 -r 10.1.0.1:80 -m -w 4\n-d -u 10.0.0.2:53 -r 10.1.0.2:53\n", false,
			"update destination tcp 10.0.0.1:80 10.1.0.1:80\nremove destination udp 10.0.0.2:53 10.1.0.2:53"},
		{"-E and -D",
			"-E -t 10.0.0.1:80 -s wrr\n-D -u 10.0.0.2:53\n", false,
			"update service tcp 10.0.0.1:80\nremove service udp 10.0.0.2:53"},
		{"-C empties the table first",
			"-C\n-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m\n", false,
			"remove service udp 10.0.0.2:53"},
		{"--flush keeps only the input's table",
			"# comment\n\n-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m\n", true,
			"remove service udp 10.0.0.2:53"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, code, msg := plan(t, tt.input, tt.flush)
			if code != 0 {
				t.Fatalf("status %d: %s", code, msg)
			}
			if got != tt.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestRestoreRefusals(t *testing.T) {
	for _, tt := range []struct{ input, msg string }{
		{"-A -t 10.0.0.1:80\n-x\n", "line 2: Try `ipvsctl -h' or 'ipvsctl --help' for more information.\n"},
		{"-a -t 10.0.0.9:80 -r 10.1.0.1\n", "line 1: Service not defined\n"},
		{"-E -t 10.0.0.9:80\n", "line 1: No such service\n"},
		{"-d -t 10.0.0.1:80 -r 10.1.0.7\n", "line 1: No such destination\n"},
		{"-A -t 10.0.0.1:80 -w 3\n", "line 1: Illegal 'weight' option with the 'add-service' command\n"},
		{"-L -n\n", "line 1: list is not a change of the table\n"},
		{"-A -t 10.0.0.3:80\n-R\n", "line 2: -R in a restore: its input is already being read\n"},
		{"-A -t 10.0.0.3:80\n-h\n", "line 2: help is not a change of the table\n"},
		{"-A -t 10.0.0.3:80\n\n--version\n", "line 3: version is not a change of the table\n"},
		{"-A -t 10.0.0.3:80\n-A -t 10.0.0.4:80 -s " + strings.Repeat("x", 3<<20) + "\n", "line 2: longer than 1 MiB\n"},
		{"-A -t 10.0.0.3:80\n\n-A -t 10.0.0.4:80 -s " + strings.Repeat("x", 1<<20) + "\n-A -t 10.0.0.5:80 -s rr\n", "line 3: longer than 1 MiB\n"},
	} {
		_, code, msg := plan(t, tt.input, false)
		if code == 0 || msg != tt.msg {
			t.Errorf("%.80q: status %d, %q; want %q", tt.input, code, msg, tt.msg)
		}
	}
}

// TestRestoreChunks reads more lines than a chunk holds: the lines reach
// apply in order, and a refusal in a later chunk stops the reading there.
func TestRestoreChunks(t *testing.T) {
	var in strings.Builder
	const n = 3*chunkLines + 7
	for i := range n {
		fmt.Fprintf(&in, "-A -t 10.0.%d.%d:80 -s rr\n", i/256, i%256)
	}
	for _, bad := range []int{0, 2*chunkLines + 3} {
		lines := strings.Split(in.String(), "\n")
		if bad > 0 {
			lines[bad-1] = "-A -t 10.0.0.1:80 -w 1"
		}
		var errb bytes.Buffer
		e := &env{ctx: context.Background(), program: "ipvsctl", stdin: strings.NewReader(strings.Join(lines, "\n")), out: bufio.NewWriter(&bytes.Buffer{}), errw: &errb}
		next := 1
		code := e.readRestore(func(line int, c *cli.Command, _ *dest) error {
			if line != next || c.Service.Port != 80 {
				t.Fatalf("line %d came as line %d", next, line)
			}
			next++
			return nil
		})
		switch {
		case bad == 0 && (code != 0 || next != n+1):
			t.Errorf("status %d after %d lines: %s", code, next-1, errb.String())
		case bad > 0 && (code != 2 || next != bad || !strings.HasPrefix(errb.String(), fmt.Sprintf("line %d: ", bad))):
			t.Errorf("status %d after %d lines: %s", code, next-1, errb.String())
		}
	}
}

// TestPlansInGroups: planning a large table a group of services at a
// time makes the same changes as one plan of the whole table.
func TestPlansInGroups(t *testing.T) {
	svc := func(i int) ipvs.Service {
		return ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Address: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr", Flags: ipvs.FlagHashed}
	}
	var cur []ipvs.VirtualServer
	// in changes the table; asIs, for a flush, names a part of it as it
	// is.
	var in, asIs strings.Builder
	for i := range 3000 {
		v := ipvs.VirtualServer{Service: svc(i)}
		n := 3
		if i == 7 {
			n = 3 * groupObjects // a service larger than a group
		}
		for j := range n {
			v.Destinations = append(v.Destinations, ipvs.Destination{Address: netip.AddrFrom4([4]byte{172, 16, byte(j >> 8), byte(j)}), Port: 80, Forward: ipvs.ForwardMasquerade, Weight: 1})
		}
		cur = append(cur, v)
		if i == 11 {
			cur = append(cur, v) // a dump that lists a service twice
		}
		s := fmt.Sprintf("-t 10.%d.%d.%d:80", i>>16, i>>8&255, i&255)
		switch i % 4 {
		case 0: // as it is
			for _, b := range []*strings.Builder{&in, &asIs} {
				fmt.Fprintf(b, "-A %s -s rr\n", s)
				for j := range n {
					fmt.Fprintf(b, "-a %s -r 172.16.%d.%d:80 -m\n", s, j>>8, j&255)
				}
			}
		case 1: // changed
			fmt.Fprintf(&in, "-E %s -s wrr\n-e %s -r 172.16.0.1:80 -m -w 5\n-d %s -r 172.16.0.2:80\n", s, s, s)
		case 2: // removed
			fmt.Fprintf(&in, "-D %s\n", s)
		}
	}
	for i := 5000; i < 6000; i++ {
		for _, b := range []*strings.Builder{&in, &asIs} {
			fmt.Fprintf(b, "-A -u 10.1.%d.%d:53 -s rr\n-a -u 10.1.%d.%d:53 -r 172.17.0.1:53 -m\n", i>>8&255, i&255, i>>8&255, i&255)
		}
	}
	for _, flush := range []bool{false, true} {
		input := in.String()
		if flush {
			input = asIs.String()
		}
		var errb bytes.Buffer
		e := &env{ctx: context.Background(), program: "ipvsctl", stdin: strings.NewReader(input), out: bufio.NewWriter(&bytes.Buffer{}), errw: &errb}
		k := compact(cur)
		d := newDesired(k, nil, flush)
		if code := e.readRestore(d.apply); code != 0 {
			t.Fatal(code, errb.String())
		}
		opts := reconcile.Options{Owns: d.owns, Drain: func(ipvs.Service) reconcile.DrainPolicy { return reconcile.DrainPolicyRemoveAtOnce }}
		var got []string
		groups := 0
		if err := d.plans(k, opts, func(p *reconcile.Plan) error {
			groups++
			for _, c := range p.Changes() {
				got = append(got, c.String())
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var want []ipvs.VirtualServer
		for i := range d.entries {
			if en := &d.entries[i]; d.desired(en) {
				v, _ := en.virtualServer(make([]ipvs.Destination, en.count()))
				want = append(want, v)
			}
		}
		p, err := reconcile.Compute(cur, want, opts)
		if err != nil {
			t.Fatal(err)
		}
		var whole []string
		for _, c := range p.Changes() {
			whole = append(whole, c.String())
		}
		slices.Sort(got)
		slices.Sort(whole)
		if groups < 3 || !slices.Equal(got, whole) {
			t.Errorf("flush %v: %d groups, %d changes; one plan has %d", flush, groups, len(got), len(whole))
		}
	}
}
