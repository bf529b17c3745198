package collector

import (
	"cmp"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

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
