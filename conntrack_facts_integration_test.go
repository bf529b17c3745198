//go:build integration && linux

package ipvs_test

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
)

// The facts of issue 20, measured on each kernel: where the next
// messages of a flow from a fixed source port go after its real server
// is removed (or set to weight 0), for each combination of
// expire_nodest_conn, the conntrack sysctl and a flush of the removed
// server's conntrack entries, and for TCP of conn_reuse_mode; what
// ipvsadm -Lnc and conntrack -L show; and how long until the flow
// reaches the other, live server.

const (
	// ctWait bounds the wait for the flow to reach the live server.
	ctWait = 8 * time.Second
	// ctUDPTimeout is the IPVS UDP timeout of the UDP cases, short, so
	// that the wait tells an entry that expires at its timeout from one
	// that the flow's own datagrams keep alive.
	ctUDPTimeout = 4 * time.Second
	// ctTick is the interval between the client's messages.
	ctTick = 100 * time.Millisecond
)

type ctCase struct {
	proto                          ipvs.Protocol
	weightZero                     bool // A is set to weight 0 rather than removed
	expireNodest, conntrack, flush bool
	reuse                          int // conn_reuse_mode, TCP only
}

func (c ctCase) String() string {
	s := c.proto.String()
	if c.weightZero {
		s += "/weight0"
	} else {
		s += "/removed"
	}
	s += fmt.Sprintf("/nodest%d/conntrack%d/flush%d", b2i(c.expireNodest), b2i(c.conntrack), b2i(c.flush))
	if c.proto == ipvs.ProtocolTCP {
		s += fmt.Sprintf("/reuse%d", c.reuse)
	}
	return s
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// ctFact is what a case showed.
type ctFact struct {
	reached   time.Duration // from the change until a message reached the live server; <0: not within ctWait
	firstNew  int           // how many messages after the change went before the first to reach it
	sent      int           // messages sent after the change
	toOld     int           // of which the old server received
	toNew     int           // and the live one
	flushed   int           // conntrack entries FlushConntrack deleted
	ipvsAfter string        // the flow's IPVS entries just after the change (and flush)
	ctAfter   string        // its conntrack entries then
	ipvsEnd   string        // at the end
	ctEnd     string
}

// atOnce is how many messages after the change may go elsewhere (the
// first may meet the old entry as IPVS expires it, and a TCP connect may
// time out under emulation) before the first that reaches the live
// server, for the flow to count as moved at once: a quarter of the UDP
// timeout's worth. A flow that moves only when its IPVS entry expires
// loses the UDP timeout's worth.
const atOnce = int(ctUDPTimeout / ctTick / 4)

// outcome is the part of a fact that the kernel decides, in a form that
// does not depend on timing noise: when the flow reached the live server
// ("at once", before atOnce messages went; "later"; "never"), whether
// messages still
// reached the old one, the flow's IPVS entries at the end, and its
// conntrack entries after the change (and flush) and at the end. (The
// IPVS entries just after the change are left out: expire_nodest_conn
// expires them from a delayed work, so what ipvsadm shows then is a race.)
func (f ctFact) outcome(proto ipvs.Protocol) string {
	when := "never"
	switch {
	case f.reached < 0:
	case f.firstNew < atOnce:
		when = "at once"
	default:
		when = "later"
	}
	old := "none to old"
	if f.toOld > 0 {
		old = "some to old"
	}
	s := fmt.Sprintf("%s, %s; ipvs at end %s", when, old, stateless(f.ipvsEnd))
	if proto != ipvs.ProtocolTCP {
		s += fmt.Sprintf("; conntrack %s, at end %s", f.ctAfter, f.ctEnd)
	}
	return s
}

// stateless drops the states from a summary of entries ("ESTABLISHED→old"
// is "→old"): how fast a TCP entry moves through its states is timing.
func stateless(entries string) string {
	var out []string
	for _, e := range strings.Split(entries, ",") {
		if _, dst, ok := strings.Cut(e, "→"); ok {
			e = "→" + dst
		}
		out = append(out, e)
	}
	return summary(out)
}

func TestKernelConntrackFacts(t *testing.T) {
	if !moduleBuilt("nf_conntrack_netlink") {
		t.Skip("no nf_conntrack_netlink in this kernel")
	}
	var cases []ctCase
	for _, proto := range []ipvs.Protocol{ipvs.ProtocolUDP, ipvs.ProtocolSCTP, ipvs.ProtocolTCP} {
		reuses := []int{1}
		if proto == ipvs.ProtocolTCP {
			reuses = []int{0, 1}
		}
		for _, wz := range []bool{false, true} {
			for _, nodest := range []bool{false, true} {
				for _, ct := range []bool{false, true} {
					for _, flush := range []bool{false, true} {
						for _, reuse := range reuses {
							cases = append(cases, ctCase{proto, wz, nodest, ct, flush, reuse})
						}
					}
				}
			}
		}
	}
	// Each case has namespaces of its own; eight at once keep the whole
	// within minutes under emulation.
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	facts := map[ctCase]ctFact{}
	for i, c := range cases {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(c.String(), func(t *testing.T) {
				f := runCTCase(t, c, uint16(40000+i))
				mu.Lock()
				facts[c] = f
				mu.Unlock()
				t.Logf("FACT %s | reached %v | sent %d, old %d, new %d | flushed %d | ipvs %s -> %s | conntrack %s -> %s",
					c, f.reached.Round(100*time.Millisecond), f.sent, f.toOld, f.toNew, f.flushed, f.ipvsAfter, f.ipvsEnd, f.ctAfter, f.ctEnd)
			})
		})
	}
	wg.Wait()
	for _, c := range cases {
		if f, ok := facts[c]; ok {
			fmt.Printf("FACT %-45s %s\n", c, f.outcome(c.proto))
			if got, want := f.outcome(c.proto), ctWant(c); got != want && got != ctAlsoWant(c) {
				t.Errorf("%s: %s\n\twant %s", c, got, want)
			}
		}
	}
}

// runCTCase runs one case in a lab of its own, with the client on port.
func runCTCase(t *testing.T, c ctCase, port uint16) ctFact {
	lab := newCTLab(t)
	ch := ipvs.SysctlChanges{Conntrack: new(c.conntrack), ExpireNodestConn: new(c.expireNodest), ConnReuseMode: new(c.reuse)}
	must(t, lab.c.SetSysctls(lab.ctx, ch))
	if c.proto == ipvs.ProtocolUDP {
		must(t, lab.c.SetTimeouts(lab.ctx, ipvs.Timeouts{UDP: ctUDPTimeout}))
	}
	svc := ipvs.Service{Protocol: c.proto, Address: ctVIP, Port: 5000, Scheduler: "rr"}
	lab.serve(svc)
	var s sink
	lab.listen(c.proto, 5000, &s)
	fc := lab.flowClient(c.proto, netip.AddrPortFrom(ctVIP, 5000), port)

	// The flow starts, until a message arrives; then three more. The old
	// server is the one the latest message to arrive reached: with
	// conn_reuse_mode 1 each TCP reconnection is scheduled anew, so the
	// flow's entry at the change is the last message's.
	seq, arrived := 0, false
	for deadline := time.Now().Add(10 * time.Second); !arrived; seq++ {
		if time.Now().After(deadline) {
			t.Fatal("the flow reached no real server in 10s")
		}
		fc.send(seq)
		time.Sleep(ctTick)
		arrived = s.count(0, 0)+s.count(1, 0) > 0
	}
	for range 3 {
		fc.send(seq)
		seq++
		time.Sleep(ctTick)
	}
	// The old server is the one the last message sent reached: a later
	// arrival can not be missed then. A message lost (a TCP connect that
	// timed out) is sent again as the next.
	old := -1
	for deadline := time.Now().Add(10 * time.Second); old < 0; {
		if time.Now().After(deadline) {
			t.Fatal("the flow's last messages reached no real server in 10s")
		}
		for wait := time.Now().Add(time.Second); old < 0 && time.Now().Before(wait); time.Sleep(ctTick) {
			old = s.where(seq - 1)
		}
		if old < 0 {
			fc.send(seq)
			seq++
		}
	}
	oldDst := ipvs.Destination{Address: lab.real[old], Port: 5000, Forward: ipvs.ForwardMasquerade}
	start := time.Now()
	if c.weightZero {
		must(t, lab.c.UpdateDestination(lab.ctx, svc, oldDst))
	} else {
		must(t, lab.c.RemoveDestination(lab.ctx, svc, oldDst))
	}
	var f ctFact
	if c.flush {
		n, err := lab.c.FlushConntrack(lab.ctx, ipvs.ConntrackFilter{Service: svc, Destination: oldDst})
		must(t, err)
		f.flushed = n
	}
	f.ipvsAfter, f.ctAfter = lab.entries(port, old)
	first := seq
	f.reached = -1
	for time.Since(start) < ctWait {
		fc.send(seq)
		seq++
		f.sent++
		time.Sleep(ctTick)
		if s.count(1-old, first) > 0 {
			f.reached = time.Since(start)
			break
		}
	}
	time.Sleep(3 * ctTick) // the last messages in flight
	f.toOld, f.toNew = s.count(old, first), s.count(1-old, first)
	f.firstNew = s.first(1-old, first) - first
	f.ipvsEnd, f.ctEnd = lab.entries(port, old)
	return f
}

// ctWant is the outcome (see ctFact.outcome) that the kernels of the
// matrix showed for each case of TestKernelConntrackFacts: the facts the
// README's table reports, pinned. A conntrack flush never changes where a
// flow goes, only the conntrack entries listed.
func ctWant(c ctCase) string {
	var flow string
	switch {
	case c.weightZero && c.proto == ipvs.ProtocolTCP && (c.expireNodest || c.reuse == 1):
		// A reconnection from the same port is a new connection: with
		// expire_nodest_conn a SYN to a weight-0 server is scheduled anew,
		// and conn_reuse_mode 1 schedules anew one that reuses a closed
		// entry (the reset reached the server, which is still there).
		flow = "at once, none to old; ipvs at end →new"
	case c.weightZero:
		// The server is still a destination: its entry keeps the flow for
		// as long as the flow's own packets refresh it.
		flow = "never, some to old; ipvs at end →old"
	case c.expireNodest:
		// The entry of a removed server expires at the flow's next packet
		// (or before, from the kernel's own sweep), which is scheduled anew.
		flow = "at once, none to old; ipvs at end →new"
	case c.proto == ipvs.ProtocolUDP:
		// The entry drops the datagrams without refreshing itself: the
		// flow moves when it expires, at the IPVS UDP timeout.
		flow = "later, none to old; ipvs at end →new"
	default:
		// SCTP's and TCP's established entries drop the packets until
		// their timeout (15 min and more), beyond any wait a client makes;
		// the reset of a TCP connection is dropped too, so the reconnection
		// meets an established entry, which no conn_reuse_mode reuses.
		flow = "never, none to old; ipvs at end →old"
	}
	if c.proto == ipvs.ProtocolTCP {
		return flow
	}
	after, end := "none", "none"
	if c.conntrack {
		// IPVS writes a conntrack entry for each flow it masquerades, and
		// deletes it with its own entry: at once for a removed server with
		// expire_nodest_conn.
		if !c.flush && (c.weightZero || !c.expireNodest) {
			after = "reply old"
		}
		switch {
		case c.proto == ipvs.ProtocolUDP && c.weightZero:
			end = "reply old"
		case c.proto == ipvs.ProtocolUDP, c.expireNodest && !c.weightZero:
			end = "reply new"
		case !c.flush:
			end = "reply old"
		}
		// A flushed SCTP association's chunks make no entry of the flow
		// again: conntrack starts SCTP entries only at an INIT.
	}
	return flow + "; conntrack " + after + ", at end " + end
}

// ctAlsoWant is an outcome a kernel showed for c besides ctWant's, in
// some runs and not others, or "". Linux 7.2, with expire_nodest_conn
// and the conntrack sysctl on: the UDP flow of a weight-0 server goes on
// reaching it, and by the end of the wait the conntrack entry naming the
// server was there in one run and gone in another; 5.10, 6.1 and 6.12
// always kept it.
func ctAlsoWant(c ctCase) string {
	if c.proto == ipvs.ProtocolUDP && c.weightZero && c.expireNodest && c.conntrack && kernelAtLeast(7, 2) {
		want := ctWant(c)
		return want[:len(want)-len("reply old")] + "none"
	}
	return ""
}
