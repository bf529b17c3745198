package exporter_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	promquery "github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

const dashboardFile = "monitoring/dashboard.json"

// noTable is a Source that is never read: Describe needs none.
type noTable struct{}

var errNoTable = errors.New("no table")

func (noTable) VirtualServers(context.Context) ([]ipvs.VirtualServer, error) { return nil, errNoTable }
func (noTable) Info(context.Context) (ipvs.Info, error)                      { return ipvs.Info{}, errNoTable }
func (noTable) Timeouts(context.Context) (ipvs.Timeouts, error)              { return ipvs.Timeouts{}, errNoTable }
func (noTable) Daemons(context.Context) ([]ipvs.Daemon, error)               { return nil, errNoTable }
func (noTable) ConnectionStates(context.Context, ipvs.ConnectionFilter) (map[string]int, error) {
	return nil, errNoTable
}
func (noTable) Totals(context.Context) (ipvs.Stats, error) { return ipvs.Stats{}, errNoTable }

// query is one query of the dashboard: a panel's target, or a variable's.
type query struct {
	panel, expr, legend string
	variable            bool
}

// dashboardQueries returns every query of the dashboard: its panels'
// targets and its variables' queries.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr, LegendFormat string }
		}
		Templating struct {
			List []struct {
				Name, Type string
				Query      json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var qs []query
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, query{panel: p.Title, expr: tg.Expr, legend: tg.LegendFormat})
		}
	}
	for _, v := range d.Templating.List {
		var q struct{ Query string }
		if v.Type == "query" && json.Unmarshal(v.Query, &q) == nil {
			qs = append(qs, query{panel: "variable " + v.Name, expr: q.Query, variable: true})
		}
	}
	if len(qs) < 10 {
		t.Fatalf("only %d queries in the dashboard", len(qs))
	}
	return qs
}

// TestDashboardSchema reads the dashboard strictly into the Grafana
// dashboard schema's types (grafana-foundation-sdk, generated from
// Grafana's own schema): an unknown or misspelt field anywhere, in a
// panel, its options or a Prometheus query, or a missing required one,
// fails it.
func TestDashboardSchema(t *testing.T) {
	rt := cog.NewRuntime()
	rt.RegisterDataqueryVariant(promquery.VariantConfig())
	rt.RegisterPanelcfgVariant(timeseries.VariantConfig())
	rt.RegisterPanelcfgVariant(stat.VariantConfig())
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	// The JSON model that Grafana's import takes (schemaVersion 39) is
	// dashboard.Dashboard's; dashboardv2 is the newer resource format.
	//lint:ignore SA1019 the dashboard's format is the classic JSON model
	var d dashboard.Dashboard
	// The SDK returns an empty error list as a non-nil error.
	if err := d.UnmarshalJSONStrict(b); err != nil && err.Error() != "" {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if err := d.Validate(); err != nil && err.Error() != "" {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	// The check must be able to fail.
	bad := strings.Replace(string(b), `"legendFormat"`, `"legendFormats"`, 1)
	//lint:ignore SA1019 as above
	if err := (&dashboard.Dashboard{}).UnmarshalJSONStrict([]byte(bad)); err == nil || err.Error() == "" {
		t.Error("a misspelt field of a query passed the schema")
	}
}

// describedMetrics returns the names of the metrics the collector
// describes, with every option.
func describedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	c, err := collector.New(noTable{}, collector.WithRates(), collector.WithConnectionStates())
	if err != nil {
		t.Fatal(err)
	}
	described := map[string]bool{}
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range ch {
		described[fq.FindStringSubmatch(d.String())[1]] = true
	}
	return described
}

// ipvsMetric is a name of the collector's in a query.
var ipvsMetric = regexp.MustCompile(`\bipvs_[a-z_]+`)

// TestDashboardMetricsExist checks that every metric the dashboard
// queries is one the collector describes.
func TestDashboardMetricsExist(t *testing.T) {
	described := describedMetrics(t)
	for _, q := range dashboardQueries(t) {
		for _, m := range ipvsMetric.FindAllString(q.expr, -1) {
			if !described[m] {
				t.Errorf("%s queries %s, which the collector does not export: %s", q.panel, m, q.expr)
			}
		}
	}
}
