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
ipvs_scrape_errors_total{operation="totals"} 0
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

// TestConnectionStates counts the table's entries by state, only when
// asked to, and only from a Source that can.
func TestConnectionStates(t *testing.T) {
	src := goldenTable()
	src.states = map[string]int{"ESTABLISHED": 3, "TIME_WAIT": 2, "NONE": 1}
	if n := testutil.CollectAndCount(must(New(src)), "ipvs_connection_table_entries"); n != 0 {
		t.Errorf("%d state series without WithConnectionStates", n)
	}
	c := must(New(src, WithConnectionStates(), WithNetNS("x")))
	want := `# HELP ipvs_connection_table_entries Entries of the connection table, connections and persistence templates, by state as the kernel names it (ESTABLISHED, SYN_RECV, UDP, NONE, ...).
# TYPE ipvs_connection_table_entries gauge
ipvs_connection_table_entries{netns="x",state="ESTABLISHED"} 3
ipvs_connection_table_entries{netns="x",state="NONE"} 1
ipvs_connection_table_entries{netns="x",state="TIME_WAIT"} 2
# HELP ipvs_scrape_errors_total Failed reads of the IPVS table, by operation.
# TYPE ipvs_scrape_errors_total counter
ipvs_scrape_errors_total{netns="x",operation="connection_states"} 0
ipvs_scrape_errors_total{netns="x",operation="daemons"} 0
ipvs_scrape_errors_total{netns="x",operation="info"} 0
ipvs_scrape_errors_total{netns="x",operation="timeouts"} 0
ipvs_scrape_errors_total{netns="x",operation="totals"} 0
ipvs_scrape_errors_total{netns="x",operation="virtual_servers"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "ipvs_connection_table_entries", "ipvs_scrape_errors_total"); err != nil {
		t.Error(err)
	}
	if _, err := New(plainSource{src}, WithConnectionStates()); err == nil {
		t.Error("connection states from a Source without ConnectionStates")
	}
}

func must(c *Collector, err error) *Collector {
	if err != nil {
		panic(err)
	}
	return c
}
