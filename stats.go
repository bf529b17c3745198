package ipvs

import (
	"context"

	"github.com/ipvs-go/ipvs/internal/ipvsh"
	"github.com/ipvs-go/ipvs/internal/nlmsg"
	"github.com/ipvs-go/ipvs/internal/procfs"
)

// Stats are the counters and rate estimates of a service or a destination.
//
// They come from the kernel's STATS64 attribute when it sends one (Linux
// 4.1 and later), else from STATS, whose counters other than the byte
// counts the kernel truncates to 32 bits.
type Stats struct {
	Connections uint64 // connections scheduled
	InPackets   uint64 // packets from clients
	OutPackets  uint64 // packets to clients
	InBytes     uint64 // bytes from clients
	OutBytes    uint64 // bytes to clients

	// The rates are the kernel's estimates, per second, over the last
	// few seconds.
	ConnectionRate uint64
	InPacketRate   uint64
	OutPacketRate  uint64
	InByteRate     uint64
	OutByteRate    uint64
}

// statsPair holds the STATS and STATS64 nests of a reply until the whole
// reply is read: STATS64 wins, and STATS is decoded only without it.
type statsPair struct{ stats32, stats64 []byte }

func (p statsPair) decode(s *Stats) error {
	switch {
	case p.stats64 != nil:
		return s.decode(p.stats64, true)
	case p.stats32 != nil:
		return s.decode(p.stats32, false)
	}
	return nil
}

// decode reads a STATS (is64 false) or STATS64 (is64 true) nest. In
// STATS, the byte counters are 64-bit and all else 32-bit; in STATS64 all
// are 64-bit. PAD attributes, and any the kernel adds later, are skipped.
func (s *Stats) decode(b []byte, is64 bool) error {
	*s = Stats{}
	a := nlmsg.NewAttrReader(b)
	for a.Next() {
		var dst *uint64
		name := ""
		switch a.Type() {
		case ipvsh.StatsAttrConns:
			dst, name = &s.Connections, "stats CONNS"
		case ipvsh.StatsAttrInPkts:
			dst, name = &s.InPackets, "stats INPKTS"
		case ipvsh.StatsAttrOutPkts:
			dst, name = &s.OutPackets, "stats OUTPKTS"
		case ipvsh.StatsAttrInBytes:
			s.InBytes = a.U64("stats INBYTES")
			continue
		case ipvsh.StatsAttrOutBytes:
			s.OutBytes = a.U64("stats OUTBYTES")
			continue
		case ipvsh.StatsAttrCPS:
			dst, name = &s.ConnectionRate, "stats CPS"
		case ipvsh.StatsAttrInPPS:
			dst, name = &s.InPacketRate, "stats INPPS"
		case ipvsh.StatsAttrOutPPS:
			dst, name = &s.OutPacketRate, "stats OUTPPS"
		case ipvsh.StatsAttrInBPS:
			dst, name = &s.InByteRate, "stats INBPS"
		case ipvsh.StatsAttrOutBPS:
			dst, name = &s.OutByteRate, "stats OUTBPS"
		default:
			continue
		}
		if is64 {
			*dst = a.U64(name)
		} else {
			*dst = uint64(a.U32(name))
		}
	}
	return a.Err()
}

// ZeroStats zeroes the counters of every service and destination of the
// namespace, and the namespace's totals.
func (c *Client) ZeroStats(ctx context.Context) error {
	return call(ctx, c, reqZero, tableWide{}, nil)
}

// ZeroServiceStats zeroes the counters of one service and of its
// destinations. If the service does not exist, the error matches
// os.ErrNotExist.
func (c *Client) ZeroServiceStats(ctx context.Context, svc Service) error {
	return call(ctx, c, reqZero, serviceRef(svc), nil)
}

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
