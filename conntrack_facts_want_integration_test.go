//go:build integration && linux

package ipvs_test

import "github.com/ipvs-go/ipvs"

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
