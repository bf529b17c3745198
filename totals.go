package ipvs

import (
	"context"

	"github.com/ipvs-go/ipvs/internal/procfs"
)

// Totals returns the IPVS totals of the client's network namespace:
// every connection scheduled and every packet and byte forwarded there,
// by every service including those removed since, from when IPVS started
// in the namespace or ZeroStats last zeroed them, and the kernel's rate
// estimates over them. They are node_exporter's node_ipvs_connections_total,
// node_ipvs_incoming_packets_total and the like, and what a sum over
// Services cannot give: it loses a service's counts when the service goes.
// ZeroServiceStats leaves them alone.
//
// The kernel has no netlink command for them: they are the procfs file
// /proc/net/ip_vs_stats, read in the client's namespace, as the sysctls
// are. As with the counters of services, the kernel sums them from its
// per-CPU counters when its rate estimator runs, every two seconds, so
// they trail traffic by as much. Before Linux 4.1 the connection and
// packet counters and the rates were 32-bit and wrapped, as in STATS;
// since then every value is 64-bit.
func (c *Client) Totals(ctx context.Context) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, &Error{Op: opTotals, Err: err}
	}
	if c.proc == nil {
		return Stats{}, &Error{Op: opTotals, Err: errNoProc}
	}
	text, err := c.proc.ReadStats()
	if err != nil {
		return Stats{}, procError(opTotals, err)
	}
	s, err := procfs.ParseStats(text)
	if err != nil {
		return Stats{}, &Error{Op: opTotals, Err: err}
	}
	// procfs.Stats has Stats' fields, in Stats' order.
	return Stats(s), nil
}
