package exporter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

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

// dashboardExprs returns every query of dashboard.json: its panels'
// targets and its variables' queries.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Type  string
				Query json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		var q struct{ Query string }
		if v.Type == "query" && json.Unmarshal(v.Query, &q) == nil {
			exprs = append(exprs, q.Query)
		}
	}
	if len(exprs) < 10 {
		t.Fatalf("only %d queries in the dashboard", len(exprs))
	}
	return exprs
}

// TestDashboardMetricsExist checks that every metric the dashboard
// queries is one the collector describes.
func TestDashboardMetricsExist(t *testing.T) {
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
	name := regexp.MustCompile(`\bipvs_[a-z_]+`)
	for _, e := range dashboardExprs(t) {
		for _, m := range name.FindAllString(e, -1) {
			if !described[m] {
				t.Errorf("the dashboard queries %s, which the collector does not export: %s", m, e)
			}
		}
	}
}

// TestDashboardQueriesParse runs the dashboard's queries, with Grafana's
// variables filled in, through promtool check rules.
func TestDashboardQueriesParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus)")
	}
	grafana := strings.NewReplacer("$__rate_interval", "1m", "$netns", ".*", "$address", ".*")
	var rules strings.Builder
	rules.WriteString("groups:\n- name: dashboard\n  rules:\n")
	for i, e := range dashboardExprs(t) {
		if v, ok := strings.CutPrefix(e, "label_values("); ok {
			// A variable's query names a series selector and a label.
			e = strings.TrimSpace(v[:strings.LastIndex(v, ",")])
		}
		q, _ := json.Marshal(grafana.Replace(e))
		fmt.Fprintf(&rules, "  - record: dashboard:query%d\n    expr: %s\n", i, q)
	}
	path := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(path, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool check rules: %v\n%s\n%s", err, out, rules.String())
	}
}
