//go:build integration && linux

package ipvs_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
)

// The flush against the kernel, with Debian's conntrack tool as the
// oracle: the entries left are those conntrack -L shows, and a flow's
// next datagram lands where the entries say.

// ctEntry is a conntrack entry as conntrack -L -o id prints it.
type ctEntry struct {
	proto           string
	client, virtual netip.AddrPort
	replySrc        netip.AddrPort
	id              string
}

var ctLine = regexp.MustCompile(`^(\w+)\s+\d+\s+(?:\d+\s+)?(?:[A-Z_]+\s+)?src=(\S+) dst=(\S+) sport=(\d+) dport=(\d+) .*?src=(\S+) dst=\S+ sport=(\d+) dport=\d+ .*id=(\d+)`)

// conntrackList runs conntrack -L in ns and parses its entries, IPv4's
// and IPv6's: without -f, conntrack 1.4.7 lists both families.
func conntrackList(t *testing.T, ns *netNS) []ctEntry {
	t.Helper()
	var out []ctEntry
	for _, l := range strings.Split(ns.sh("conntrack -L -o id 2>/dev/null"), "\n") {
		m := ctLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		ap := func(a, p string) netip.AddrPort {
			port, _ := strconv.Atoi(p)
			return netip.AddrPortFrom(netip.MustParseAddr(a), uint16(port))
		}
		out = append(out, ctEntry{m[1], ap(m[2], m[4]), ap(m[3], m[5]), ap(m[6], m[7]), m[8]})
	}
	return out
}

// TestKernelFlushConntrack flushes the conntrack entries of one removed
// real server among flows to two, for each protocol, and checks with
// conntrack -L that exactly those went.
func TestKernelFlushConntrack(t *testing.T) {
	for _, proto := range []ipvs.Protocol{ipvs.ProtocolUDP, ipvs.ProtocolSCTP, ipvs.ProtocolTCP} {
		t.Run(proto.String(), func(t *testing.T) {
			lab := newCTLab(t)
			// expire_nodest_conn stays 0: with 1, IPVS deletes the removed
			// server's conntrack entries itself, racing the flush.
			must(t, lab.c.SetSysctls(lab.ctx, ipvs.SysctlChanges{Conntrack: new(true)}))
			svc := ipvs.Service{Protocol: proto, Address: ctVIP, Port: 5000, Scheduler: "rr"}
			lab.serve(svc)
			var s sink
			lab.listen(proto, 5000, &s)
			// Eight flows, four to each server.
			var clients []*flowClient
			for i := range 8 {
				fc := lab.flowClient(proto, netip.AddrPortFrom(ctVIP, 5000), uint16(41000+i))
				clients = append(clients, fc)
				fc.send(i)
			}
			eventually(t, "each flow's first message arrives", func() bool {
				for i := range clients {
					if s.where(i) < 0 {
						clients[i].send(i)
						return false
					}
				}
				return true
			})
			before := conntrackList(t, lab.dir)
			removed := ipvs.Destination{Address: lab.real[0], Port: 5000}
			var want, keep []ctEntry
			for _, e := range before {
				if e.virtual == netip.AddrPortFrom(ctVIP, 5000) && e.replySrc == netip.AddrPortFrom(lab.real[0], 5000) {
					want = append(want, e)
				} else {
					keep = append(keep, e)
				}
			}
			// Four flows each, and for TCP the reset connections' entries
			// too; at least one of them.
			if len(want) == 0 {
				t.Fatalf("no entry of the removed server before the flush:\n%v", before)
			}
			must(t, lab.c.RemoveDestination(lab.ctx, svc, removed))
			n, err := lab.c.FlushConntrack(lab.ctx, ipvs.ConntrackFilter{Service: svc, Destination: removed})
			must(t, err)
			after := conntrackList(t, lab.dir)
			t.Logf("flushed %d; before:\n%v\nafter:\n%v", n, before, after)
			if n != len(want) {
				t.Errorf("flushed %d entries, want %d", n, len(want))
			}
			for _, e := range keep {
				if !containsCT(after, e) {
					t.Errorf("entry %+v of another server was deleted", e)
				}
			}
			for _, e := range after {
				if e.replySrc.Addr() == lab.real[0] {
					t.Errorf("entry %+v of the removed server is left", e)
				}
			}
		})
	}
}

func containsCT(es []ctEntry, e ctEntry) bool {
	for _, x := range es {
		if x.id == e.id {
			return true
		}
	}
	return false
}

// TestKernelFlushConntrackRace flushes while new flows to the live
// server start all the time: it deletes the removed server's entries
// only, never one of the live server's, old or new.
func TestKernelFlushConntrackRace(t *testing.T) {
	lab := newCTLab(t)
	must(t, lab.c.SetSysctls(lab.ctx, ipvs.SysctlChanges{Conntrack: new(true)}))
	svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: ctVIP, Port: 5000, Scheduler: "rr"}
	lab.serve(svc)
	var s sink
	lab.listen(ipvs.ProtocolUDP, 5000, &s)
	for i := range 40 {
		lab.flowClient(ipvs.ProtocolUDP, netip.AddrPortFrom(ctVIP, 5000), uint16(42000+i)).send(i)
	}
	eventually(t, "the first flows arrive", func() bool { return s.count(0, 0)+s.count(1, 0) == 40 })
	removed := ipvs.Destination{Address: lab.real[0], Port: 5000}
	must(t, lab.c.RemoveDestination(lab.ctx, svc, removed))
	before := conntrackList(t, lab.dir)
	// New flows, all to the live server now, while the flush runs.
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for ; ; n++ {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			fc := lab.flowClient(ipvs.ProtocolUDP, netip.AddrPortFrom(ctVIP, 5000), uint16(43000+n%2000))
			fc.send(1000 + n)
			fc.close()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	n, err := lab.c.FlushConntrack(lab.ctx, ipvs.ConntrackFilter{Service: svc, Destination: removed})
	close(stop)
	started := <-done
	must(t, err)
	after := conntrackList(t, lab.dir)
	t.Logf("flushed %d while %d new flows started", n, started)
	var wantGone int
	for _, e := range before {
		gone := !containsCT(after, e)
		if e.replySrc.Addr() == lab.real[0] {
			wantGone++
			if !gone {
				t.Errorf("entry %+v of the removed server is left", e)
			}
		} else if gone {
			t.Errorf("entry %+v of the live server was deleted", e)
		}
	}
	if n != wantGone {
		t.Errorf("flushed %d, want %d", n, wantGone)
	}
	live := 0
	for _, e := range after {
		if e.replySrc.Addr() == lab.real[1] {
			live++
		}
	}
	if started > 0 && live <= 20 {
		t.Errorf("%d entries of the live server after %d new flows", live, started)
	}
}

// TestKernelFlushConntrackNamespace checks that a Client of another
// namespace flushes there, and only there: an identical entry in the
// caller's own namespace stays.
func TestKernelFlushConntrackNamespace(t *testing.T) {
	lab := newCTLab(t)
	svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: ctVIP, Port: 5000, Scheduler: "rr"}
	removed := ipvs.Destination{Address: lab.real[0], Port: 5000}
	lab.dir.sh(ctHelperEntry)
	caller := newNetNS(t) // the test's own namespace stands in for the caller's
	caller.sh(ctHelperEntry)
	must(t, caller.in(func() error {
		n, err := lab.c.FlushConntrack(lab.ctx, ipvs.ConntrackFilter{Service: svc, Destination: removed})
		if err == nil && n != 1 {
			err = fmt.Errorf("flushed %d entries, want 1", n)
		}
		return err
	}))
	if got := conntrackList(t, lab.dir); len(got) != 0 {
		t.Errorf("the client's namespace still has %v", got)
	}
	if got := conntrackList(t, caller); len(got) != 1 {
		t.Errorf("the caller's namespace has %v, want its own entry", got)
	}
}

// TestKernelFlushConntrackErrors checks a flush without permission.
func TestKernelFlushConntrackErrors(t *testing.T) {
	t.Run("no capability", func(t *testing.T) {
		ns := newNetNS(t)
		ns.sh(ctHelperEntry)
		out, err := ctHelper(t, ns, "nocap", nil)
		t.Logf("%s", out)
		if err != nil {
			t.Fatal(err)
		}
		if got := conntrackList(t, ns); len(got) != 1 {
			t.Errorf("the namespace has %v after a refused flush, want its entry", got)
		}
	})
}

// TestKernelNoConntrackNetlink flushes on a kernel without the conntrack
// netlink interface: a boot of its own without nf_conntrack_netlink
// (VM_WITHOUT_MODULES), since unloading it after the other tests can hang.
func TestKernelNoConntrackNetlink(t *testing.T) {
	if !strings.Contains(" "+os.Getenv("VM_WITHOUT_MODULES")+" ", " nf_conntrack_netlink ") {
		t.Skip("needs a boot without nf_conntrack_netlink (VM_WITHOUT_MODULES=nf_conntrack_netlink)")
	}
	_, c := newClient(t)
	_, err := c.FlushConntrack(ctxT(t), ctHelperFilter)
	t.Logf("%v", err)
	wantErr(t, err, ipvs.ErrNoConntrack, os.ErrNotExist)
	if !strings.Contains(fmt.Sprint(err), "flush conntrack udp 10.99.1.1:5000 -> 10.97.0.2:5000") {
		t.Errorf("the error does not name the operation and the filter: %v", err)
	}
}

func init() {
	if mode := os.Getenv("IPVS_CT_HELPER"); mode != "" {
		os.Exit(ctHelperFlush(mode))
	}
}

// TestKernelFlushConntrackCapNetAdminOnly flushes from a process of uid
// 65534 with CAP_NET_ADMIN and no other capability, as a balancer daemon
// runs: the flush needs nothing more, and deletes the entry.
func TestKernelFlushConntrackCapNetAdminOnly(t *testing.T) {
	ns := newNetNS(t)
	ns.sh(ctHelperEntry)
	out, err := ctHelper(t, ns, "capnetadmin", []uintptr{12}) // CAP_NET_ADMIN
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("with CAP_NET_ADMIN alone: %v", err)
	}
	if got := conntrackList(t, ns); len(got) != 0 {
		t.Errorf("the namespace still has %v", got)
	}
}

// ctHelperEntry makes the one entry of the flushes of the helpers: of
// the UDP service 10.99.1.1:5000, answered by 10.97.0.2:5000.
const ctHelperEntry = "conntrack -I -p udp -s 10.99.0.2 -d 10.99.1.1 --sport 44000 --dport 5000 -r 10.97.0.2 -q 10.99.0.2 " +
	"--reply-port-src 5000 --reply-port-dst 44000 -t 120 -u ASSURED"

// ctHelper runs this test binary as the helper mode in ns, as uid 65534
// with the ambient capabilities caps.
func ctHelper(t *testing.T, ns *netNS, mode string, caps []uintptr) ([]byte, error) {
	t.Helper()
	var out []byte
	var err error
	must(t, ns.in(func() error {
		cmd := exec.Command("/proc/self/exe", "-test.run=^$")
		cmd.Env = append(os.Environ(), "IPVS_CT_HELPER="+mode)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}, AmbientCaps: caps}
		out, err = cmd.CombinedOutput()
		return nil
	}))
	return out, err
}

// ctHelperFilter selects ctHelperEntry.
var ctHelperFilter = ipvs.ConntrackFilter{
	Service:     ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: ctVIP, Port: 5000},
	Destination: ipvs.Destination{Address: netip.MustParseAddr("10.97.0.2")}}

// ctHelperFlush flushes ctHelperFilter, in a helper process, and
// returns 0 if the result is what mode wants: with CAP_NET_ADMIN
// ("capnetadmin"), the one entry deleted; without any capability
// ("nocap"), an error that names the operation and the filter, matches
// os.ErrPermission and names the capability missing.
func ctHelperFlush(mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := ipvs.New(nil)
	if err != nil {
		fmt.Println("FAIL: New:", err)
		return 1
	}
	defer c.Close()
	n, err := c.FlushConntrack(ctx, ctHelperFilter)
	fmt.Println("FLUSHED:", n, "ERROR:", err)
	switch mode {
	case "capnetadmin":
		if err == nil && n == 1 {
			return 0
		}
		fmt.Println("FAIL: want the one entry flushed")
	case "nocap":
		if errors.Is(err, os.ErrPermission) && errors.Is(err, syscall.EPERM) && strings.Contains(fmt.Sprint(err), "CAP_NET_ADMIN") &&
			strings.HasPrefix(fmt.Sprint(err), "ipvs: flush conntrack udp 10.99.1.1:5000 -> 10.97.0.2:5000: ") {
			return 0
		}
		fmt.Println("FAIL: want a permission error that names the operation, the filter and CAP_NET_ADMIN")
	}
	return 1
}

// TestKernelConntrackNeedsARule pins why the conntrack lab has a rule:
// in a namespace without one, netfilter tracks nothing, and IPVS's
// conntrack sysctl alone makes no entry that conntrack -L shows, so there
// is nothing to flush; with the rule, the flow's entry is there, its
// reply from the real server.
func TestKernelConntrackNeedsARule(t *testing.T) {
	for _, rule := range []bool{false, true} {
		t.Run(fmt.Sprintf("rule=%v", rule), func(t *testing.T) {
			lab := newCTLabWith(t, rule)
			must(t, lab.c.SetSysctls(lab.ctx, ipvs.SysctlChanges{Conntrack: new(true)}))
			svc := ipvs.Service{Protocol: ipvs.ProtocolUDP, Address: ctVIP, Port: 5000, Scheduler: "rr"}
			lab.serve(svc)
			var s sink
			lab.listen(ipvs.ProtocolUDP, 5000, &s)
			fc := lab.flowClient(ipvs.ProtocolUDP, netip.AddrPortFrom(ctVIP, 5000), 45000)
			eventually(t, "the flow arrives", func() bool { fc.send(0); return s.where(0) >= 0 })
			ipvsRows, ctRows := lab.entries(45000, s.where(0))
			t.Logf("ipvs %s, conntrack %s", ipvsRows, ctRows)
			want := "none"
			if rule {
				want = "reply old"
			}
			if ctRows != want {
				t.Errorf("conntrack shows %q, want %q", ctRows, want)
			}
		})
	}
}
