package collector

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Gather reads the table once, as Collect does, and returns its metric
// families sorted by name, each family's series sorted by their labels,
// as a registry returns them. It makes the Collector a
// prometheus.Gatherer, to serve it without a registry: a registry checks
// every series of every scrape for consistency and uniqueness, which for a
// table of a million series costs more than all the rest of the scrape,
// while the Collector's series are consistent and unique by construction.
// WriteText is faster still, where the text format is what is wanted.
func (c *Collector) Gather() ([]*dto.MetricFamily, error) {
	ch := make(chan prometheus.Metric, 1024)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	fs := familyBuilder{d: &c.d}
	for m := range ch {
		fs.add(m)
	}
	mfs := slices.SortedFunc(slices.Values(fs.list), func(a, b *dto.MetricFamily) int {
		return cmp.Compare(a.GetName(), b.GetName())
	})
	for _, f := range mfs {
		// The table's series come sorted; the sums and the settings not.
		if !slices.IsSortedFunc(f.Metric, compareMetrics) {
			slices.SortFunc(f.Metric, compareMetrics)
		}
	}
	return mfs, fs.err
}

// familyBuilder gathers metrics into client_model families, one per
// descriptor, in the order they first come.
type familyBuilder struct {
	d       *descs
	byDesc  map[*prometheus.Desc]*dto.MetricFamily
	list    []*dto.MetricFamily
	metrics slab[dto.Metric]
	err     error // the last metric left out, and why
}

func (fs *familyBuilder) add(m prometheus.Metric) {
	f := fs.byDesc[m.Desc()]
	if f == nil {
		meta, ok := fs.d.meta[m.Desc()]
		if !ok {
			fs.err = fmt.Errorf("collector: a metric of an unknown descriptor: %s", m.Desc())
			return
		}
		f = &dto.MetricFamily{Name: &meta.name, Help: &meta.help, Type: meta.typ.Enum()}
		if fs.byDesc == nil {
			fs.byDesc = map[*prometheus.Desc]*dto.MetricFamily{}
		}
		fs.byDesc[m.Desc()] = f
		fs.list = append(fs.list, f)
	}
	dm := &fs.metrics.take(1)[0]
	if err := m.Write(dm); err != nil {
		fs.err = err
		return
	}
	f.Metric = append(f.Metric, dm)
}

// compareMetrics orders series as a registry does: by their label values
// in the order of the names, which are the same for a family.
func compareMetrics(a, b *dto.Metric) int {
	for i, p := range a.Label {
		if c := cmp.Compare(p.GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return 0
}
