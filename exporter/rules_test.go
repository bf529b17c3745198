package exporter_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v2"
)

// ruleFiles are the monitoring kit's rules, each with its unit test.
var ruleFiles = []string{"alerts.yml", "node_exporter.rules.yml"}

// TestRules checks the kit's alerting and recording rules with promtool
// and runs their unit tests (promtool test rules), which evaluate them
// over series of the collector's metrics.
func TestRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus)")
	}
	for _, f := range ruleFiles {
		test := strings.TrimSuffix(f, ".yml") + "_test.yml"
		for _, args := range [][]string{{"check", "rules", f}, {"test", "rules", test}} {
			cmd := exec.Command(promtool, args...)
			cmd.Dir = "monitoring"
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	}
}

// TestRulesMetricsExist checks that every ipvs_ metric the rules read is
// one the collector describes.
func TestRulesMetricsExist(t *testing.T) {
	described := describedMetrics(t)
	for _, f := range ruleFiles {
		b, err := os.ReadFile(filepath.Join("monitoring", f))
		if err != nil {
			t.Fatal(err)
		}
		var rules struct {
			Groups []struct {
				Name  string
				Rules []struct {
					Alert, Record, Expr string
					For                 string
					Labels, Annotations map[string]string
				}
			}
		}
		if err := yaml.UnmarshalStrict(b, &rules); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		n := 0
		for _, g := range rules.Groups {
			for _, r := range g.Rules {
				n++
				for _, m := range ipvsMetric.FindAllString(r.Expr, -1) {
					if !described[m] {
						t.Errorf("%s: %s%s reads %s, which the collector does not export", f, r.Alert, r.Record, m)
					}
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no rules", f)
		}
	}
}
