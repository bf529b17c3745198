package collector

import (
	"slices"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const namespace = "ipvs"

// A kind is a label set that several metric families share, and the
// object they describe.
type kind int

const (
	kindService kind = iota
	kindServiceInfo
	kindDest
	kindDestInfo
	numKinds
)

// extraLabels are the labels a kind carries beyond the identity ones.
// The info metrics carry the objects' names as ipvsadm writes them
// (service_name "tcp [2001:db8::2d]:443", "fwmark 148 ipv4";
// destination_name "[2001:db8::2]:443"), for dashboards' legends and
// selectors, which cannot build them from the identity labels; a kind
// whose series are summed leaves them out (see namedLabels).
var extraLabels = [numKinds][]string{
	kindServiceInfo: {"scheduler", "persistence_engine", "flags", "service_name"},
	kindDestInfo:    {"forward", "tunnel_type", "tunnel_port", "tunnel_flags", "service_name", "destination_name"},
}

// namedLabels are the extra labels that name an object, and so are left
// out where its identity labels are summed over.
var namedLabels = []string{"service_name", "destination_name"}

// labelSet is the variable labels of one kind: the kept identity labels,
// then its extras.
type labelSet struct {
	names []string
	// ident are the indices in identityLabels of the kept identity labels.
	ident []int
	// extra are the positions in a row of the kind's extra labels it
	// carries.
	extra []int
	// sorted is, for each label of the metric including the constant netns
	// label, in the order of names (as Prometheus sorts them), the index of
	// its value in a row: identity values, extras, then netns.
	sorted []int
	// pairNames are the label names in that order, for dto.LabelPair.
	pairNames []*string
	// summed tells whether some identity label of the kind is dropped.
	summed bool
}

// family is one metric family of a kind: its values come from a row of
// values the kind's collector fills in, at index col.
type family struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	col  int
}

// descs are the descriptors of a Collector, fixed by its options.
type descs struct {
	sets     [numKinds]labelSet
	families [numKinds][]family
	// The global metrics, without identity labels.
	up, duration, errors, info, tableSize, timeout, daemon, states *prometheus.Desc
	// The namespace's totals and their rates, in the order of
	// counterNames; none without them.
	totals, totalRates []*prometheus.Desc
	constLabels        prometheus.Labels
	// meta has the name, help and type of each descriptor, for WriteText.
	meta map[*prometheus.Desc]familyMeta
}

type familyMeta struct {
	name, help string
	typ        dto.MetricType
}

// newDesc makes a descriptor and records its metadata.
func (d *descs) newDesc(name, help string, typ prometheus.ValueType, labels []string) *prometheus.Desc {
	desc := prometheus.NewDesc(name, help, labels, d.constLabels)
	t := dto.MetricType_GAUGE
	if typ == prometheus.CounterValue {
		t = dto.MetricType_COUNTER
	}
	d.meta[desc] = familyMeta{name, help, t}
	return desc
}

// The per-object counters, in the order of a row's columns: each is a
// counter and, with WithRates, has a rate gauge.
var counterNames = []struct{ name, help, rate, rateHelp string }{
	{"connections_total", "Connections scheduled.", "connections_per_second", "The kernel's estimate of connections scheduled per second."},
	{"incoming_packets_total", "Packets from clients.", "incoming_packets_per_second", "The kernel's estimate of packets from clients per second."},
	{"outgoing_packets_total", "Packets to clients.", "outgoing_packets_per_second", "The kernel's estimate of packets to clients per second."},
	{"incoming_bytes_total", "Bytes from clients.", "incoming_bytes_per_second", "The kernel's estimate of bytes from clients per second."},
	{"outgoing_bytes_total", "Bytes to clients.", "outgoing_bytes_per_second", "The kernel's estimate of bytes to clients per second."},
}

// destGauges are the gauges of a destination, in the order of a row's
// columns after the counters and rates.
var destGauges = []struct{ name, help string }{
	{"active_connections", "Connections in the established state (for TCP) that the destination has."},
	{"inactive_connections", "Connections in other states that the destination has."},
	{"persistent_connections", "Persistence templates that point to the destination."},
	{"weight", "The destination's weight, its share of new connections; 0 takes it out of rotation."},
}

func newDescs(o *options) descs {
	d := descs{meta: map[*prometheus.Desc]familyMeta{}}
	if o.netns != nil {
		d.constLabels = prometheus.Labels{"netns": *o.netns}
	}
	for k := range numKinds {
		d.sets[k] = newLabelSet(k, o)
	}
	subsystem := [numKinds]string{"service", "service", "destination", "destination"}
	for _, k := range []kind{kindService, kindDest} {
		if k == kindDest && !o.destinations {
			continue
		}
		for i, c := range counterNames {
			d.add(k, subsystem[k], c.name, c.help+summedHelp(d.sets[k]), prometheus.CounterValue, i)
		}
		if o.rates {
			for i, c := range counterNames {
				d.add(k, subsystem[k], c.rate, c.rateHelp+summedHelp(d.sets[k]), prometheus.GaugeValue, len(counterNames)+i)
			}
		}
	}
	if o.destinations {
		for i, g := range destGauges {
			d.add(kindDest, "destination", g.name, g.help+summedHelp(d.sets[kindDest]), prometheus.GaugeValue, 2*len(counterNames)+i)
		}
		d.add(kindDestInfo, "destination", "info", "Settings of a destination, as labels; the value is 1"+countHelp(d.sets[kindDestInfo]), prometheus.GaugeValue, 0)
	}
	d.add(kindServiceInfo, "service", "info", "Settings of a service, as labels; the value is 1"+countHelp(d.sets[kindServiceInfo]), prometheus.GaugeValue, 0)

	g := func(name, help string, labels ...string) *prometheus.Desc {
		return d.newDesc(namespace+"_"+name, help, prometheus.GaugeValue, labels)
	}
	d.up = g("up", "Whether the last read of the IPVS table succeeded (0 without IPVS).")
	d.duration = g("scrape_duration_seconds", "How long the last scrape of the IPVS table took.")
	d.errors = d.newDesc(namespace+"_scrape_errors_total", "Failed reads of the IPVS table, by operation.",
		prometheus.CounterValue, []string{"operation"})
	d.info = g("info", "The kernel's IPVS version, as a label; the value is 1.", "version")
	d.tableSize = g("connection_table_size", "Buckets of the kernel's connection hash table.")
	d.timeout = g("timeout_seconds", "Idle timeouts of connections, by kind: tcp, tcp_fin, udp.", "timeout")
	d.daemon = g("sync_daemon_info", "A running connection synchronization daemon, with its settings as labels; the value is 1.",
		"state", "interface", "sync_id", "group", "port", "ttl", "max_length")
	if o.totals {
		for _, c := range counterNames {
			d.totals = append(d.totals, d.newDesc(namespace+"_"+c.name, c.help+totalHelp, prometheus.CounterValue, nil))
			if o.rates {
				d.totalRates = append(d.totalRates, g(c.rate, c.rateHelp+totalHelp))
			}
		}
	}
	if o.states {
		d.states = g("connection_table_entries", "Entries of the connection table, connections and persistence templates, "+
			"by state as the kernel names it (ESTABLISHED, SYN_RECV, UDP, NONE, ...).", "state")
	}
	return d
}

// totalHelp ends the help of the namespace's totals.
const totalHelp = " The namespace's total, services since removed included (/proc/net/ip_vs_stats)."

func summedHelp(s labelSet) string {
	if s.summed {
		return " Summed over the objects that share the labels."
	}
	return ""
}

func countHelp(s labelSet) string {
	if s.summed {
		return ", summed over the objects that share the labels."
	}
	return "."
}

func (d *descs) add(k kind, subsystem, name, help string, typ prometheus.ValueType, col int) {
	desc := d.newDesc(prometheus.BuildFQName(namespace, subsystem, name), help, typ, d.sets[k].names)
	d.families[k] = append(d.families[k], family{desc: desc, typ: typ, col: col})
}

// all returns every descriptor.
func (d *descs) all() []*prometheus.Desc {
	var all []*prometheus.Desc
	for _, fs := range d.families {
		for _, f := range fs {
			all = append(all, f.desc)
		}
	}
	all = append(all, d.up, d.duration, d.errors, d.info, d.tableSize, d.timeout, d.daemon)
	all = append(append(all, d.totals...), d.totalRates...)
	if d.states != nil {
		all = append(all, d.states)
	}
	return all
}

// newLabelSet works out the labels of a kind under the options.
func newLabelSet(k kind, o *options) labelSet {
	var s labelSet
	n := serviceLabelCount
	if k == kindDest || k == kindDestInfo {
		n = len(identityLabels)
	}
	for i := range n {
		if o.keep[i] {
			s.ident = append(s.ident, i)
			s.names = append(s.names, identityLabels[i])
		} else {
			s.summed = true
		}
	}
	for j, e := range extraLabels[k] {
		if s.summed && slices.Contains(namedLabels, e) {
			continue
		}
		s.extra = append(s.extra, len(identityLabels)+j)
		s.names = append(s.names, e)
	}
	// Row positions: identity labels at their index, extras after all of
	// them, netns last.
	type pos struct {
		name string
		at   int
	}
	var ps []pos
	for _, i := range s.ident {
		ps = append(ps, pos{identityLabels[i], i})
	}
	for _, at := range s.extra {
		ps = append(ps, pos{extraLabels[k][at-len(identityLabels)], at})
	}
	if o.netns != nil {
		ps = append(ps, pos{"netns", netnsColumn})
	}
	sort.Slice(ps, func(a, b int) bool { return ps[a].name < ps[b].name })
	for _, p := range ps {
		s.sorted = append(s.sorted, p.at)
		s.pairNames = append(s.pairNames, labelName(p.name))
	}
	return s
}

// labelNames holds one copy of each label name, so that label pairs with
// the same name and value are the same whatever kind made them.
var labelNames sync.Map

func labelName(name string) *string {
	p, _ := labelNames.LoadOrStore(name, &name)
	return p.(*string)
}

// netnsColumn is the index of the netns value in a row of label values:
// after the identity labels and the most extras any kind has.
const netnsColumn = len(identityLabels) + 6
