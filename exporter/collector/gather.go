package collector

import (
	"cmp"
	"fmt"
	"maps"
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
	families := map[*prometheus.Desc]*dto.MetricFamily{}
	var out slab[dto.Metric]
	var err error
	for m := range ch {
		f := families[m.Desc()]
		if f == nil {
			meta, ok := c.d.meta[m.Desc()]
			if !ok {
				err = fmt.Errorf("collector: a metric of an unknown descriptor: %s", m.Desc())
				continue
			}
			f = &dto.MetricFamily{Name: &meta.name, Help: &meta.help, Type: meta.typ.Enum()}
			families[m.Desc()] = f
		}
		dm := &out.take(1)[0]
		if werr := m.Write(dm); werr != nil {
			err = werr
			continue
		}
		f.Metric = append(f.Metric, dm)
	}
	mfs := slices.SortedFunc(maps.Values(families), func(a, b *dto.MetricFamily) int {
		return cmp.Compare(a.GetName(), b.GetName())
	})
	for _, f := range mfs {
		// The table's series come sorted; the sums and the settings not.
		if !slices.IsSortedFunc(f.Metric, compareMetrics) {
			slices.SortFunc(f.Metric, compareMetrics)
		}
	}
	return mfs, err
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
