package collector

import (
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ipvs-go/ipvs"
)

// Option configures a Collector in New.
type Option func(*options) error

type options struct {
	destinations bool
	// keep marks which of identityLabels the per-service and
	// per-destination metrics carry; the others are summed over.
	keep             [len(identityLabels)]bool
	include, exclude *regexp.Regexp
	rates            bool
	states           bool
	// totals is set when the Source has the namespace's totals.
	totals   bool
	netns    *string
	timeout  time.Duration
	logger   *slog.Logger
	logEvery time.Duration
}

func defaultOptions() options {
	o := options{destinations: true, timeout: DefaultTimeout, logEvery: time.Hour}
	for i := range o.keep {
		o.keep[i] = true
	}
	return o
}

// identityLabels are the labels that identify a service (the first five)
// and a destination within it (the last three), in the order of their
// values in the code.
var identityLabels = [...]string{"family", "protocol", "address", "port", "fwmark", "dest_family", "dest_address", "dest_port"}

// serviceLabelCount is the number of identityLabels that belong to the
// service.
const serviceLabelCount = 5

// LabelNames returns the names WithLabels accepts: those that identify a
// service, then those that identify a destination within it.
func LabelNames() []string { return slices.Clone(identityLabels[:]) }

// WithoutDestinations leaves out every per-destination metric, for tables
// whose destinations are too many to keep a series each. A scrape then
// reads the services alone if the Source is a ServiceSource, which saves
// a dump per service.
func WithoutDestinations() Option {
	return func(o *options) error { o.destinations = false; return nil }
}

// WithLabels keeps only the named identity labels (see LabelNames) on the
// per-service and per-destination metrics, and sums the values of the
// series that then share their labels, as node_exporter's
// --collector.ipvs.backend-labels does. Info metrics become counts of the
// objects that share their labels. No names keeps all of them.
func WithLabels(names ...string) Option {
	return func(o *options) error {
		if len(names) == 0 {
			return nil
		}
		var keep [len(identityLabels)]bool
		for _, n := range names {
			i := slices.Index(identityLabels[:], n)
			if i < 0 {
				return fmt.Errorf("collector: label %q: not one of %s", n, strings.Join(identityLabels[:], ", "))
			}
			keep[i] = true
		}
		o.keep = keep
		return nil
	}
}

// WithServiceFilter exports only the services whose name, as
// ipvs.Service.String writes it ("tcp 10.0.0.1:80", "udp [2001:db8::1]:53",
// "fwmark 7 ipv4"), matches include (nil: every service) and does not match
// exclude (nil: none).
func WithServiceFilter(include, exclude *regexp.Regexp) Option {
	return func(o *options) error { o.include, o.exclude = include, exclude; return nil }
}

// WithRates adds the kernel's own rate estimates as gauges. rate() over
// the counters is usually the better choice: the kernel averages over a
// few seconds only, and on its own schedule.
func WithRates() Option {
	return func(o *options) error { o.rates = true; return nil }
}

// WithConnectionStates adds the number of entries of the connection
// table in each state (connections and persistence templates). The kernel
// has no netlink command for this: it prints the whole table of every
// namespace through procfs, which costs far more than the rest of a scrape
// on a busy director, so it is off by default. The Source must be a
// StateSource.
func WithConnectionStates() Option {
	return func(o *options) error { o.states = true; return nil }
}

// WithNetNS adds a constant label netns with the given value to every
// metric, to tell the Collectors of several network namespaces apart in
// one registry. Give every Collector of a registry one, the exporter's own
// namespace an empty name: Prometheus reads an empty label as none.
func WithNetNS(name string) Option {
	return func(o *options) error {
		if !utf8.ValidString(name) {
			return fmt.Errorf("collector: netns %q: not UTF-8", name)
		}
		o.netns = &name
		return nil
	}
}

// WithTimeout bounds each scrape; DefaultTimeout without it.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("collector: timeout %v: must be positive", d)
		}
		o.timeout = d
		return nil
	}
}

// WithLogger logs failed reads (once, then at most hourly while they keep
// failing) and recoveries to l; without it the Collector logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error { o.logger = l; return nil }
}

// wanted reports whether the filter lets the metrics of the service k
// identifies through.
func (o *options) wanted(k ipvs.ServiceKey) bool {
	if o.include == nil && o.exclude == nil {
		return true
	}
	name := k.String()
	return (o.include == nil || o.include.MatchString(name)) && (o.exclude == nil || !o.exclude.MatchString(name))
}
