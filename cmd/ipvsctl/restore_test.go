package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/netip"
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
	d := newDesired(current(), nil, flush)
	code := e.readRestore(func(_ int, c *cli.Command) error { return d.apply(c) })
	if code != 0 {
		return "", code, errb.String()
	}
	p, err := reconcile.Compute(current(), d.desired(), reconcile.Options{Owns: d.owns,
		Drain: func(ipvs.Service) reconcile.DrainPolicy { return reconcile.DrainPolicyRemoveAtOnce }})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range p.Changes() {
		line := c.Kind.String() + " " + c.Service.String()
		if c.Destination.Address.IsValid() {
			line += " " + c.Destination.String()
		}
		lines = append(lines, line)
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
	} {
		_, code, msg := plan(t, tt.input, false)
		if code == 0 || msg != tt.msg {
			t.Errorf("%q: status %d, %q; want %q", tt.input, code, msg, tt.msg)
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
		code := e.readRestore(func(line int, c *cli.Command) error {
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
