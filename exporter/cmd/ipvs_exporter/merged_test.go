package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func family(name, help string, typ dto.MetricType, values ...float64) *dto.MetricFamily {
	mf := &dto.MetricFamily{Name: &name, Help: &help, Type: typ.Enum()}
	for _, v := range values {
		mf.Metric = append(mf.Metric, &dto.Metric{Gauge: &dto.Gauge{Value: &v}})
	}
	return mf
}

func gatherer(mfs ...*dto.MetricFamily) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, nil })
}

func TestMerged(t *testing.T) {
	g := merged{
		gatherer(family("b", "B", dto.MetricType_GAUGE, 1), family("a", "A", dto.MetricType_GAUGE, 2)),
		gatherer(family("b", "B", dto.MetricType_GAUGE, 3)),
		gatherer(family("a", "other help", dto.MetricType_GAUGE, 4)),
	}
	mfs, err := g.Gather()
	if err == nil || !strings.Contains(err.Error(), "two families a") {
		t.Errorf("error %v, want one about the two families a", err)
	}
	var got []string
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			got = append(got, fmt.Sprintf("%s=%v", mf.GetName(), m.GetGauge().GetValue()))
		}
	}
	if want := "a=2 b=1 b=3"; strings.Join(got, " ") != want {
		t.Errorf("merged %q, want %q", strings.Join(got, " "), want)
	}
}
