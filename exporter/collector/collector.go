// Package collector exports the IPVS table of one network namespace as
// Prometheus metrics: per service and per destination the 64-bit counters
// of connections, packets and bytes, per destination the connection counts
// and weight, all read in one dump per scrape, and the namespace's
// settings and totals.
//
// Every series is unique by construction: a service's labels are its
// identity, ipvs.ServiceKey (family, protocol, address, port and firewall
// mark; the ones that do not apply are empty), a destination's are its
// service's and its own family, address and port, and a service or
// destination that the kernel's dump yields twice is written once. With
// WithLabels, series that then share their labels are summed into one;
// the settings' series have one value per label set by construction too.
// So Collectors with distinct WithNetNS values never write one series
// twice, which lets WriteText, the fast path for serving a large table,
// skip a registry's checks; Collect is the path for registries, which
// check anyway. The Collector is checked: its label names are fixed when
// it is built, so Describe sends every descriptor it can collect.
package collector

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"
)

// Source is what a Collector reads from: *ipvs.Client satisfies it, and
// so does the Dialer, which opens a client when IPVS becomes available.
type Source interface {
	VirtualServers(ctx context.Context) ([]ipvs.VirtualServer, error)
	Info(ctx context.Context) (ipvs.Info, error)
	Timeouts(ctx context.Context) (ipvs.Timeouts, error)
	Daemons(ctx context.Context) ([]ipvs.Daemon, error)
}

// StateSource is a Source that can also count the connection table's
// entries by state, for WithConnectionStates: *ipvs.Client and the Dialer
// satisfy it.
type StateSource interface {
	Source
	ConnectionStates(ctx context.Context, f ipvs.ConnectionFilter) (map[string]int, error)
}

// ServiceSource is a Source that can also read the services alone, which
// a Collector WithoutDestinations does: a table's destinations cost most
// of a read, one dump per service. *ipvs.Client and the Dialer satisfy it.
type ServiceSource interface {
	Source
	Services(ctx context.Context) ([]ipvs.Service, error)
}

// TotalsSource is a Source that can also read the namespace's totals,
// which a Collector of it exports: the counters of every service,
// including those removed since, from /proc/net/ip_vs_stats (see
// ipvs.Client.Totals). *ipvs.Client and the Dialer satisfy it.
type TotalsSource interface {
	Source
	Totals(ctx context.Context) (ipvs.Stats, error)
}

var (
	_ StateSource   = (*ipvs.Client)(nil)
	_ StateSource   = (*Dialer)(nil)
	_ ServiceSource = (*ipvs.Client)(nil)
	_ ServiceSource = (*Dialer)(nil)
	_ TotalsSource  = (*ipvs.Client)(nil)
	_ TotalsSource  = (*Dialer)(nil)
)

// DefaultTimeout bounds a scrape of a Collector built without WithTimeout.
const DefaultTimeout = 10 * time.Second

// The operations of a scrape, as the scrape error counter names them.
var operations = [...]string{
	opVirtualServers: "virtual_servers", opInfo: "info", opTimeouts: "timeouts", opDaemons: "daemons",
	opConnectionStates: "connection_states", opTotals: "totals",
}

const (
	opVirtualServers = iota
	opInfo
	opTimeouts
	opDaemons
	opConnectionStates
	opTotals
)

// Collector is a prometheus.Collector of the IPVS table behind a Source.
// It is safe for concurrent scrapes; each reads the table anew.
type Collector struct {
	src  Source
	opts options
	d    descs

	// errors counts the failed reads of each operation, in the order of
	// operations.
	errors [len(operations)]atomic.Uint64
	// logMu serializes the error log, which reports a failure once
	// rather than at every scrape.
	logMu  sync.Mutex
	logged map[string]time.Time
}

// New returns a Collector of the table src reads, configured by opts. It
// refuses unknown label names and a connection-state option on a Source
// that cannot count states.
func New(src Source, opts ...Option) (*Collector, error) {
	if src == nil {
		return nil, errors.New("collector: nil Source")
	}
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if _, ok := src.(StateSource); o.states && !ok {
		return nil, errors.New("collector: connection states asked for, but the Source has no ConnectionStates")
	}
	_, o.totals = src.(TotalsSource)
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return &Collector{src: src, opts: o, d: newDescs(&o), logged: map[string]time.Time{}}, nil
}

// Describe sends the descriptor of every metric the Collector can collect.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect reads the table once and sends its metrics. Without IPVS, or
// when the read of the services fails, it sends ipvs_up 0 and the scrape
// metrics only; a failed read of the settings leaves out just those.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	send := func(m prometheus.Metric) { ch <- m }
	c.scrape(context.Background(), send, func(vss []ipvs.VirtualServer) { c.tableEmitter(vss).flush(send) })
}

// scrape reads the table once, within ctx and the Collector's timeout,
// hands the services to table and sends the other metrics.
func (c *Collector) scrape(ctx context.Context, send func(prometheus.Metric), table func([]ipvs.VirtualServer)) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.timeout)
	defer cancel()
	start := time.Now()
	up := 0.0
	vss, err := c.readTable(ctx)
	if c.check(opVirtualServers, err) {
		up = 1
		table(vss)
		c.collectSettings(ctx, send)
	}
	send(prometheus.MustNewConstMetric(c.d.up, prometheus.GaugeValue, up))
	send(prometheus.MustNewConstMetric(c.d.duration, prometheus.GaugeValue, time.Since(start).Seconds()))
	for i, op := range operations {
		if i == opConnectionStates && !c.opts.states || i == opTotals && !c.opts.totals {
			continue
		}
		send(prometheus.MustNewConstMetric(c.d.errors, prometheus.CounterValue, float64(c.errors[i].Load()), op))
	}
}

// readTable reads the services with their destinations, or alone when no
// destination metric is wanted and the Source can.
func (c *Collector) readTable(ctx context.Context) ([]ipvs.VirtualServer, error) {
	ss, ok := c.src.(ServiceSource)
	if c.opts.destinations || !ok {
		return c.src.VirtualServers(ctx)
	}
	svcs, err := ss.Services(ctx)
	if err != nil {
		return nil, err
	}
	vss := make([]ipvs.VirtualServer, len(svcs))
	for i := range svcs {
		vss[i].Service = svcs[i]
	}
	return vss, nil
}

// collectSettings sends the namespace's info, timeouts, sync daemons,
// totals if the Source has them and, if asked for, its connections by
// state.
func (c *Collector) collectSettings(ctx context.Context, send func(prometheus.Metric)) {
	info, err := c.src.Info(ctx)
	if c.check(opInfo, err) {
		send(prometheus.MustNewConstMetric(c.d.info, prometheus.GaugeValue, 1, info.Version.String()))
		send(prometheus.MustNewConstMetric(c.d.tableSize, prometheus.GaugeValue, float64(info.ConnectionTableSize)))
	}
	t, err := c.src.Timeouts(ctx)
	if c.check(opTimeouts, err) {
		for _, v := range []struct {
			name string
			d    time.Duration
		}{{"tcp", t.TCP}, {"tcp_fin", t.TCPFin}, {"udp", t.UDP}} {
			// Zero means the kernel was built without the protocol.
			if v.d != 0 {
				send(prometheus.MustNewConstMetric(c.d.timeout, prometheus.GaugeValue, v.d.Seconds(), v.name))
			}
		}
	}
	daemons, err := c.src.Daemons(ctx)
	if c.check(opDaemons, err) {
		for _, d := range daemons {
			send(prometheus.MustNewConstMetric(c.d.daemon, prometheus.GaugeValue, 1, daemonLabels(d)...))
		}
	}
	if c.opts.totals {
		s, err := c.src.(TotalsSource).Totals(ctx)
		if c.check(opTotals, err) {
			var r row
			statsValues(&r, &s)
			for i, d := range c.d.totals {
				send(prometheus.MustNewConstMetric(d, prometheus.CounterValue, r.values[i]))
			}
			for i, d := range c.d.totalRates {
				send(prometheus.MustNewConstMetric(d, prometheus.GaugeValue, r.values[len(counterNames)+i]))
			}
		}
	}
	if c.opts.states {
		states, err := c.src.(StateSource).ConnectionStates(ctx, ipvs.ConnectionFilter{})
		if c.check(opConnectionStates, err) {
			for state, n := range stateLabels(states) {
				send(prometheus.MustNewConstMetric(c.d.states, prometheus.GaugeValue, float64(n), state))
			}
		}
	}
}

// check counts and logs a failed read; it reports whether err is nil.
func (c *Collector) check(op int, err error) bool {
	if err == nil {
		c.recovered(operations[op])
		return true
	}
	c.errors[op].Add(1)
	c.logFailure(operations[op], err)
	return false
}

// logFailure logs a failed read the first time it happens and then at
// most once per opts.logEvery while it keeps failing, so that a host
// without IPVS does not fill its log at every scrape.
func (c *Collector) logFailure(op string, err error) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	now := time.Now()
	if last, ok := c.logged[op]; ok && now.Sub(last) < c.opts.logEvery {
		return
	}
	c.logged[op] = now
	msg := "IPVS read failed; ipvs_up is 0 until it succeeds, and this is logged again at most every " + c.opts.logEvery.String()
	if op != operations[opVirtualServers] {
		msg = "IPVS read failed; its metrics are left out until it succeeds, and this is logged again at most every " + c.opts.logEvery.String()
	}
	c.opts.logger.Warn(msg, "operation", op, "err", err)
}

// recovered logs that a read which had failed succeeds again.
func (c *Collector) recovered(op string) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	if _, ok := c.logged[op]; ok {
		delete(c.logged, op)
		c.opts.logger.Info("IPVS read succeeds again", "operation", op)
	}
}

// stateLabels returns the counts of states by their label values: names
// that are not UTF-8 are escaped, and two that then read alike are added
// up rather than sent as one series twice.
func stateLabels(states map[string]int) map[string]int {
	out := states
	for state := range states {
		if labelValue(state) != state {
			out = make(map[string]int, len(states))
			for s, n := range states {
				out[labelValue(s)] += n
			}
			break
		}
	}
	return out
}
