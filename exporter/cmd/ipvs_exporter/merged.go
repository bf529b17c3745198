package main

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// merged gathers the exporter's own registry and each namespace's
// Collector, and merges the families that several of them return (the
// Collectors' all have the same names). The Collectors are not
// registered: a registry would check each of a large table's million
// series at every scrape, and prometheus.Gatherers as well, where the
// Collectors' series are unique by construction and their netns labels
// are distinct (parseNamespaces refuses two alike).
type merged []prometheus.Gatherer

// Gather returns the families of every gatherer, sorted by name; an error
// of one does not keep the others' families out.
func (m merged) Gather() ([]*dto.MetricFamily, error) {
	byName := map[string]*dto.MetricFamily{}
	var errs []error
	for _, g := range m {
		mfs, err := g.Gather()
		if err != nil {
			errs = append(errs, err)
		}
		for _, mf := range mfs {
			have := byName[mf.GetName()]
			switch {
			case have == nil:
				byName[mf.GetName()] = mf
			case have.GetType() != mf.GetType() || have.GetHelp() != mf.GetHelp():
				errs = append(errs, fmt.Errorf("two families %s of different types or help", mf.GetName()))
			default:
				have.Metric = append(have.Metric, mf.Metric...)
			}
		}
	}
	mfs := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		mfs = append(mfs, mf)
	}
	slices.SortFunc(mfs, func(a, b *dto.MetricFamily) int { return cmp.Compare(a.GetName(), b.GetName()) })
	return mfs, errors.Join(errs...)
}
