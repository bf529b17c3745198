//go:build integration && linux

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs/internal/netns"
)

// corpus builds, with stock ipvsadm, a table with every kind of service,
// scheduler, flag, forwarding method, tunnel and daemon. A line starting
// with '?' may fail: its scheduler is not in every kernel.
const corpus = `
-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 10.1.0.1:8080 -m -w 3
-a -t 10.0.0.1:80 -r 10.1.0.2:80 -g -w 0
-a -t 10.0.0.1:80 -r 10.1.0.3 -i -x 100 -y 10
-A -t 192.168.10.1:443 -s wlc -p 600 -M 255.255.255.0
-a -t 192.168.10.1:443 -r 10.1.0.4 -g -w 65535
-A -t 192.168.10.2:443 -s wlc -p 60 -M 255.0.255.0
-A -u 10.0.0.2:53 -s wrr -o
-a -u 10.0.0.2:53 -r 10.1.0.5:5353 -m -w 2
-A -u 10.0.0.3:5060 -s rr -p 60 --pe sip
-a -u 10.0.0.3:5060 -r 10.1.0.6 -m
-A --sctp-service 10.0.0.4:3868 -s lc
-a --sctp-service 10.0.0.4:3868 -r 10.1.0.7 -m
-A -t 10.0.0.5:0 -s lblc -p
-A -t 10.0.0.6:80 -s sh -b sh-fallback,sh-port
-A -t 10.0.0.7:80 -s mh -b mh-port
-A -t 10.0.0.8:80 -s dh -b flag-3
-A -t 10.0.0.9:80 -s sed
-A -t 10.0.0.10:80 -s nq
-A -t 10.0.0.11:80 -s fo
-A -t 10.0.0.12:80 -s ovf
-A -t 10.0.0.13:80 -s lblcr
?-A -t 10.0.0.14:80 -s twos
-A -t [2001:db8::1]:80 -s rr
-a -t [2001:db8::1]:80 -r [2001:db8:1::1]:8080 -m
-A -t [2001:db8::2]:443 -p 300 -M 64
-A -u [2001:db8:ffff:ffff:ffff:ffff:ffff:fffe]:65535 -s rr
-A -f 5 -s rr
-a -f 5 -r 10.1.0.10 -g
-a -f 5 -r 10.1.0.11:22 -m
-A -f 6 -6 -s wlc -p 120
-a -f 6 -6 -r 2001:db8:1::2 -g
-A -f 4000000000 -s rr
-A -t 10.0.0.20:80 -s rr
-a -t 10.0.0.20:80 -r 10.1.0.12 -i --tun-type ipip
-a -t 10.0.0.20:80 -r 10.1.0.13 -i --tun-type gue --tun-port 6080
-a -t 10.0.0.20:80 -r 10.1.0.14 -i --tun-type gue --tun-port 6081 --tun-csum
-a -t 10.0.0.20:80 -r 10.1.0.15 -i --tun-type gue --tun-port 6082 --tun-remcsum
-a -t 10.0.0.20:80 -r 10.1.0.16 -i --tun-type gre
-a -t 10.0.0.20:80 -r 10.1.0.17 -i --tun-type gre --tun-csum
-A -t 200.0.0.1:80 -s rr
-A -t 10.200.0.1:80 -s rr
-A -t 172.16.0.1:80 -s rr
-A -t 129.0.0.1:65535 -s rr
-a -t 200.0.0.1:80 -r 10.1.0.1:80 -m
-a -t 200.0.0.1:80 -r 192.168.1.1:80 -m
-a -t 200.0.0.1:80 -r 129.0.0.2:80 -m
-a -t 200.0.0.1:80 -r 1.2.3.4:80 -m -x 2000000000 -y 1000000000
-a -t 200.0.0.1:80 -r 1.2.3.4:81 -m
--set 1000 100 200
--start-daemon master --mcast-interface dum0 --syncid 7 --sync-maxlen 1200 --mcast-group 239.9.9.9
--start-daemon backup --mcast-interface dum0 --syncid 8 --mcast-group 224.0.0.100 --mcast-port 9000 --mcast-ttl 3 --sync-maxlen 1000
`

// mixed are tunnel destinations of the other family than their service's,
// which the kernel refuses while a sync daemon runs: they have a table of
// their own.
const mixed = `
-A -t [2001:db8::1]:80 -s rr
-a -t [2001:db8::1]:80 -r 10.1.0.8 -i
-a -t [2001:db8::1]:80 -r 10.1.0.9 -i --tun-type gre --tun-csum
-A -t 10.0.0.20:80 -s rr
-a -t 10.0.0.20:80 -r 2001:db8:2::1 -i --tun-type gue --tun-port 7000 --tun-nocsum
-a -t 10.0.0.20:80 -r 10.1.0.12 -i --tun-type ipip
`

// corpora are the tables every comparison runs on.
var corpora = []string{corpus, mixed}

// ipvsctlPath is the binary under test, copied next to the test binary.
func ipvsctlPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("ipvsctl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the ipvsctl binary must be in the working directory (VM_FILES): %v", err)
	}
	return p
}

// newNS makes a namespace with the dummy link the corpus's daemons use.
func newNS(t *testing.T) *netns.NS {
	t.Helper()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ns.Close() })
	if _, err := ns.Sh("ip link add dum0 type dummy && ip addr add 10.255.0.1/24 dev dum0 && ip link set dum0 up"); err != nil {
		t.Fatal(err)
	}
	return ns
}

// build runs lines of ipvsadm options with ipvsadm.
func build(t *testing.T, ns *netns.NS, lines string) {
	t.Helper()
	for _, line := range strings.Split(lines, "\n") {
		optional := strings.HasPrefix(line, "?")
		line = strings.TrimPrefix(line, "?")
		if strings.TrimSpace(line) == "" {
			continue
		}
		r, err := ns.Run("", "ipvsadm", strings.Fields(line)...)
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != 0 && !optional {
			t.Fatalf("ipvsadm %s: status %d: %s", line, r.Code, r.Stderr)
		}
	}
}

// same runs one command line with ipvsadm and with ipvsctl and wants the
// same output, errors and status.
func same(t *testing.T, ns *netns.NS, bin, stdin, args string) {
	t.Helper()
	want, err := ns.Run(stdin, "ipvsadm", strings.Fields(args)...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ns.Run(stdin, bin, strings.Fields(args)...)
	if err != nil {
		t.Fatal(err)
	}
	// Messages name the program as invoked.
	got.Stderr = strings.ReplaceAll(got.Stderr, bin, "ipvsadm")
	if got != want && strings.Contains(args, "c") {
		// A connection's expiry ticks, and a late ACK resets it, between
		// reads: ipvsctl's must then be ipvsadm's of just after.
		after, err := ns.Run(stdin, "ipvsadm", strings.Fields(args)...)
		if err != nil {
			t.Fatal(err)
		}
		if got == after {
			return
		}
	}
	if got != want {
		t.Errorf("%s:\nipvsadm (status %d):\n%s%s\nipvsctl (status %d):\n%s%s", args, want.Code, want.Stdout, want.Stderr, got.Code, got.Stdout, got.Stderr)
	}
}

// listings are the command lines whose output must match ipvsadm's byte
// for byte, refusals and kernel errors included.
var listings = []string{
	"", "-L", "-Ln", "-l -n", "-Ln --stats", "-Ln --stats --exact", "-Ln --rate", "-Ln --rate --exact",
	"-Ln --thresholds", "-Ln --persistent-conn", "-Ln --tun-info", "-Ln --nosort", "-Ln --sort",
	"-L --stats", "-Ln --stats --rate", "-Ln --thresholds --persistent-conn --tun-info",
	"-Ln -t 10.0.0.1:80", "-Ln -t [2001:db8::1]:80 --stats", "-Ln -f 5", "-Ln -f 6 -6", "-Ln -f 4000000000",
	"-Ln -u 10.0.0.3:5060", "-Ln --sctp-service 10.0.0.4:3868 --thresholds", "-L -t 10.0.0.20:80 --tun-info",
	"-Ln -t 10.9.9.9:1", "-Ln --timeout", "-L --daemon", "-Ln --daemon",
	"-Lnc --stats", "-L --bogus", "-n -L", "-A", "-A -t 10.0.0.20:80", "-D -t 10.9.9.9:80",
	"-d -t 10.0.0.1:80 -r 10.7.7.7", "-e -t 10.0.0.1:80 -r 10.7.7.7", "-a -t 10.9.9.9:80 -r 10.7.7.7",
	"-E -t 10.9.9.9:80", "-A -t 10.0.0.1:80 -p -w", "-Z -t 10.9.9.9:1", "--stop-daemon master --syncid 1 -x 1",
	"-A -t 10.0.0.99:80 -s nosuchsched", "-a -t 10.0.0.20:80 -r 10.1.0.12 -i",
}

// TestKernelListing compares every listing of the corpus with ipvsadm's.
func TestKernelListing(t *testing.T) {
	bin := ipvsctlPath(t)
	ns := newNS(t)
	build(t, ns, corpus)
	for _, args := range listings {
		same(t, ns, bin, "", args)
	}
	ns = newNS(t)
	build(t, ns, mixed)
	for _, args := range []string{"-L", "-Ln", "-Ln --tun-info", "-Ln --stats", "-Ln -t [2001:db8::1]:80"} {
		same(t, ns, bin, "", args)
	}
}

// TestKernelNames compares the listings that resolve names, with a hosts
// entry and a services database the test writes if the guest has none.
func TestKernelNames(t *testing.T) {
	bin := ipvsctlPath(t)
	for path, content := range map[string]string{
		"/etc/hosts":    "127.0.0.1 localhost\n10.0.0.1 web.example web\n10.1.0.1 real-one.example\n2001:db8::1 six.example\n",
		"/etc/services": "http 80/tcp www\nhttp 80/udp\ndomain 53/udp\nsip 5060/udp\nhttp-alt 8080/tcp\n",
	} {
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Skipf("cannot write %s: %v", path, err)
		}
		t.Cleanup(func() { _ = os.Remove(path) })
	}
	ns := newNS(t)
	build(t, ns, corpus)
	for _, args := range []string{"-L", "-L --stats", "-L -t web.example:http", "-L -t 10.0.0.1:www", "-Lc"} {
		same(t, ns, bin, "", args)
	}
	// The save resolves names too: ipvsadm's lines are ours less what we add.
	sameSave(t, ns, bin, "-S", true)
}
