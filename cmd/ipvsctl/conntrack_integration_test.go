//go:build integration && linux

package main

import (
	"strings"
	"testing"
)

// TestKernelFlushConntrack deletes real servers with --flush-conntrack:
// -d deletes the conntrack entry of the server it removes, and -R those
// of the UDP servers its input no longer has; conntrack -L shows the
// entries of the others left.
func TestKernelFlushConntrack(t *testing.T) {
	ns := newNS(t)
	bin := ipvsctlPath(t)
	must(t, ns, "", "ip", "addr", "add", "10.99.2.1/24", "dev", "lo")
	must(t, ns, "", bin, "-A", "-u", "10.99.1.1:53", "-s", "rr")
	for i, real := range []string{"10.99.2.2", "10.99.2.3", "10.99.2.4"} {
		must(t, ns, "", bin, "-a", "-u", "10.99.1.1:53", "-r", real, "-m")
		// The entry IPVS writes for a flow it masquerades to the server.
		port := []string{"40002", "40003", "40004"}[i]
		must(t, ns, "", "conntrack", "-I", "-p", "udp", "-s", "10.99.0.2", "-d", "10.99.1.1", "--sport", port, "--dport", "53",
			"-r", real, "-q", "10.99.0.2", "--reply-port-src", "53", "--reply-port-dst", port, "-t", "120")
	}
	left := func() string {
		r, err := ns.Run("", "conntrack", "-L")
		if err != nil {
			t.Fatal(err)
		}
		var rs []string
		for _, real := range []string{"10.99.2.2", "10.99.2.3", "10.99.2.4"} {
			if strings.Contains(r.Stdout, "src="+real+" ") {
				rs = append(rs, real)
			}
		}
		return strings.Join(rs, " ")
	}
	must(t, ns, "", bin, "-d", "-u", "10.99.1.1:53", "-r", "10.99.2.2", "--flush-conntrack")
	if got := left(); got != "10.99.2.3 10.99.2.4" {
		t.Fatalf("after -d --flush-conntrack, conntrack has the entries of %q", got)
	}
	// Without the option, -d leaves the entries, as ipvsadm does.
	must(t, ns, "", bin, "-d", "-u", "10.99.1.1:53", "-r", "10.99.2.3")
	if got := left(); got != "10.99.2.3 10.99.2.4" {
		t.Fatalf("after -d, conntrack has the entries of %q", got)
	}
	plan := must(t, ns, "-A -u 10.99.1.1:53 -s rr\n", bin, "-R", "--dry-run", "--flush-conntrack")
	if !strings.Contains(plan, "# flush conntrack udp 10.99.1.1:53 -> 10.99.2.4:53\n") {
		t.Errorf("the dry run does not show the flush:\n%s", plan)
	}
	if got := left(); got != "10.99.2.3 10.99.2.4" {
		t.Fatalf("after a dry run, conntrack has the entries of %q", got)
	}
	must(t, ns, "-A -u 10.99.1.1:53 -s rr\n", bin, "-R", "--flush-conntrack")
	if got := left(); got != "10.99.2.3" {
		t.Fatalf("after -R --flush-conntrack, conntrack has the entries of %q", got)
	}
}
