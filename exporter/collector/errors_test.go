package collector

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestNoIPVS scrapes a Source that fails as a host without ip_vs does:
// ipvs_up is 0, the failures are counted, and the log says so once.
func TestNoIPVS(t *testing.T) {
	var log bytes.Buffer
	src := &fakeSource{err: fmt.Errorf("dial: %w", ipvs.ErrNoIPVS)}
	c, err := New(src, WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		testutil.CollectAndCount(c)
	}
	want := `# HELP ipvs_up Whether the last read of the IPVS table succeeded (0 without IPVS).
# TYPE ipvs_up gauge
ipvs_up 0
# HELP ipvs_scrape_errors_total Failed reads of the IPVS table, by operation.
# TYPE ipvs_scrape_errors_total counter
ipvs_scrape_errors_total{operation="virtual_servers"} 4
ipvs_scrape_errors_total{operation="info"} 0
ipvs_scrape_errors_total{operation="timeouts"} 0
ipvs_scrape_errors_total{operation="daemons"} 0
`
	// The fourth scrape is CollectAndCompare's own.
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ipvs_up", "ipvs_scrape_errors_total"); err != nil {
		t.Error(err)
	}
	if n := strings.Count(log.String(), "IPVS read failed"); n != 1 {
		t.Errorf("%d failures logged over 4 scrapes, want 1:\n%s", n, log.String())
	}
	// Once IPVS is there, the recovery is logged, and a new failure again.
	src.err = nil
	testutil.CollectAndCount(c)
	src.err = errors.New("gone")
	testutil.CollectAndCount(c)
	if got := strings.Count(log.String(), "IPVS read succeeds again"); got != 1 {
		t.Errorf("%d recoveries logged, want 1:\n%s", got, log.String())
	}
	if n := strings.Count(log.String(), "IPVS read failed"); n != 2 {
		t.Errorf("%d failures logged, want 2:\n%s", n, log.String())
	}
}

// TestSettingsFail leaves out only the metrics of the read that failed.
func TestSettingsFail(t *testing.T) {
	src := goldenTable()
	src.infoErr = errors.New("no info")
	c, err := New(src)
	if err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "ipvs_info", "ipvs_connection_table_size"); n != 0 {
		t.Errorf("%d info metrics after a failed Info", n)
	}
	if v := testutil.ToFloat64(upOnly{c}); v != 1 {
		t.Errorf("ipvs_up %v, want 1", v)
	}
	if n := testutil.CollectAndCount(c, "ipvs_service_connections_total"); n != 7 {
		t.Errorf("%d services, want 7", n)
	}
}

// TestPromtool runs the golden expositions through promtool check metrics.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian: apt-get install prometheus)")
	}
	for _, tc := range goldenCases {
		c, err := New(goldenTable(), append(tc.opts, WithRates())...)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(exposition(t, c))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: promtool: %v\n%s", tc.name, err, out)
		}
	}
	// The files themselves, as a reader would check them.
	files, _ := filepath.Glob("testdata/*.prom")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(b)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: promtool: %v\n%s", f, err, out)
		}
	}
}
