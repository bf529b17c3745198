package collector

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// direct sends one series per row and family, at the end and sorted. A
// table of 10,000 services with 10 destinations each makes a million
// series, so the costs per series matter:
//   - label pairs are interned: each name and value is one pair, shared by
//     every series that has it, where prometheus.NewConstMetric would build
//     the pairs of each series anew;
//   - metrics, their values and label slices come from slabs, not one
//     allocation each;
//   - the series of each family are sent in the order the registry sorts
//     them into, so that its sort finds them sorted.
type direct struct {
	d        *descs
	pairs    map[pairKey]*internedPair
	last     [netnsColumn + 1]*internedPair
	rows     [numKinds][]entry
	metrics  slab[metric]
	ptrs     slab[*dto.LabelPair]
	counters slab[dto.Counter]
	gauges   slab[dto.Gauge]
}

// entry is the series of one row of one kind: one metric per family of
// the kind, sharing labels.
type entry struct {
	labels  []*dto.LabelPair
	metrics []metric
}

type pairKey struct {
	name  *string
	value string
}

// internedPair is a label pair with the value it points to, allocated
// together.
type internedPair struct {
	dto.LabelPair
	value string
}

// newDirect returns a direct emitter for about services and dests rows.
func newDirect(d *descs, services, dests int) *direct {
	e := &direct{d: d, pairs: make(map[pairKey]*internedPair, services+dests/4)}
	e.rows[kindService] = make([]entry, 0, services)
	e.rows[kindServiceInfo] = make([]entry, 0, services)
	if len(d.families[kindDest]) > 0 {
		e.rows[kindDest] = make([]entry, 0, dests)
		e.rows[kindDestInfo] = make([]entry, 0, dests)
	}
	return e
}

// pair returns the interned pair of a label; the previous row's pair at
// the same position is the usual answer, as a service's destinations
// follow it.
func (e *direct) pair(at int, name *string, value string) *dto.LabelPair {
	if p := e.last[at]; p != nil && p.Name == name && p.value == value {
		return &p.LabelPair
	}
	k := pairKey{name, value}
	p := e.pairs[k]
	if p == nil {
		p = &internedPair{value: value}
		p.Name, p.Value = name, &p.value
		e.pairs[k] = p
	}
	e.last[at] = p
	return &p.LabelPair
}

func (e *direct) emit(k kind, r *row) {
	fs := e.d.families[k]
	if len(fs) == 0 {
		return
	}
	s := &e.d.sets[k]
	labels := e.ptrs.take(len(s.sorted))
	for i, at := range s.sorted {
		labels[i] = e.pair(at, s.pairNames[i], r.labels[at])
	}
	ms := e.metrics.take(len(fs))
	for i, f := range fs {
		m := &ms[i]
		*m = metric{desc: f.desc, value: 1, labels: labels}
		if k == kindService || k == kindDest {
			m.value = r.values[f.col]
		}
		if f.typ == prometheus.CounterValue {
			m.counter = &e.counters.take(1)[0]
			m.counter.Value = &m.value
		} else {
			m.gauge = &e.gauges.take(1)[0]
			m.gauge.Value = &m.value
		}
	}
	e.rows[k] = append(e.rows[k], entry{labels: labels, metrics: ms})
}

func (e *direct) flush(send func(prometheus.Metric)) {
	for k, rows := range e.rows {
		slices.SortFunc(rows, compareLabels)
		for i := range e.d.families[k] {
			for _, r := range rows {
				send(&r.metrics[i])
			}
		}
	}
}

// compareLabels orders rows as the registry orders series: by their
// label values, in the order of the names.
func compareLabels(a, b entry) int {
	for i, p := range a.labels {
		if q := b.labels[i]; p != q {
			if c := strings.Compare(*p.Value, *q.Value); c != 0 {
				return c
			}
		}
	}
	return 0
}

// slab hands out slices of large arrays, so that a million small objects
// cost a few hundred allocations.
type slab[T any] struct{ free []T }

const slabSize = 4096

func (s *slab[T]) take(n int) []T {
	if len(s.free) < n {
		s.free = make([]T, max(slabSize, n))
	}
	t := s.free[:n:n]
	s.free = s.free[n:]
	return t
}

// metric is a counter or a gauge, with label pairs it shares with others.
type metric struct {
	desc    *prometheus.Desc
	value   float64
	labels  []*dto.LabelPair
	counter *dto.Counter
	gauge   *dto.Gauge
}

// Desc returns the metric's descriptor.
func (m *metric) Desc() *prometheus.Desc { return m.desc }

// Write fills in out with parts that are shared and never changed after:
// the label pairs, sorted as a registry needs them, and the value.
func (m *metric) Write(out *dto.Metric) error {
	out.Label, out.Counter, out.Gauge = m.labels, m.counter, m.gauge
	return nil
}
