package collector

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

var update = flag.Bool("update", false, "rewrite testdata/*.prom from the collector's output")

// goldenCases are the expositions in testdata: the whole table, the
// table with summed labels and rates, and a filtered table without
// destinations.
var goldenCases = []struct {
	name string
	opts []Option
}{
	{"full", []Option{WithNetNS("")}},
	{"summed", []Option{WithLabels("protocol", "port", "dest_address"), WithRates()}},
	{"filtered", []Option{WithoutDestinations(), WithNetNS("ingress_sbox"),
		WithServiceFilter(regexp.MustCompile(`^(tcp|fwmark) `), regexp.MustCompile(`\]:80$`))}},
}

// exposition gathers c alone through a pedantic registry, which also
// refuses two series with the same labels, and returns the text format
// without the scrape duration, which varies.
func exposition(t *testing.T, c prometheus.Collector) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatalf("register: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if mf.GetName() == "ipvs_scrape_duration_seconds" {
			continue
		}
		if err := enc.Encode(mf); err != nil {
			t.Fatalf("encode: %v", err)
		}
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(goldenTable(), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".prom")
			if *update {
				if err := os.WriteFile(path, exposition(t, c), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := testutil.CollectAndCompare(c, bytes.NewReader(want), metricNames(t, want)...); err != nil {
				t.Error(err)
			}
		})
	}
}

// metricNames returns the names of the families in an exposition, for
// CollectAndCompare to leave the scrape duration out.
func metricNames(t *testing.T, text []byte) []string {
	t.Helper()
	var names []string
	for line := range strings.Lines(string(text)) {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			names = append(names, f[2])
		}
	}
	if len(names) == 0 {
		t.Fatal("no metrics in the golden file")
	}
	return names
}

// TestSeriesIdentifyObjects checks that every object of the golden table
// has series of its own: as many as the distinct objects, the repeated
// ones counted once.
func TestSeriesIdentifyObjects(t *testing.T) {
	src := goldenTable()
	c, err := New(src)
	if err != nil {
		t.Fatal(err)
	}
	services, dests := 7, 9
	if n := testutil.CollectAndCount(c, "ipvs_service_connections_total"); n != services {
		t.Errorf("%d service series, want %d", n, services)
	}
	if n := testutil.CollectAndCount(c, "ipvs_destination_weight"); n != dests {
		t.Errorf("%d destination series, want %d", n, dests)
	}
	if n := testutil.CollectAndCount(c, "ipvs_destination_info"); n != dests {
		t.Errorf("%d destination info series, want %d", n, dests)
	}
}

// TestSumsKeepTotals checks that dropping labels adds series up without
// losing or counting twice anything: for every family, the sum over all
// series is the same with all labels and with each subset.
func TestSumsKeepTotals(t *testing.T) {
	full := totals(t, nil)
	for _, labels := range [][]string{{"protocol"}, {"address", "dest_address"}, {"fwmark", "dest_port", "family"}, {"dest_family"}} {
		got := totals(t, labels)
		for name, v := range full {
			if got[name] != v {
				t.Errorf("labels %v: %s sums to %v, want %v", labels, name, got[name], v)
			}
		}
	}
}

// totals gathers the golden table with the given labels and returns the
// sum of each per-object family over its series.
func totals(t *testing.T, labels []string) map[string]float64 {
	t.Helper()
	c, err := New(goldenTable(), WithLabels(labels...), WithRates())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "ipvs_service_") && !strings.HasPrefix(mf.GetName(), "ipvs_destination_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			sums[mf.GetName()] += value(m)
		}
	}
	if len(sums) == 0 {
		t.Fatal("no per-object metrics")
	}
	return sums
}

func value(m *dto.Metric) float64 {
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// TestDescribeMatchesCollect checks the Collector is checked honestly:
// every metric it collects has a described descriptor, with every option.
func TestDescribeMatchesCollect(t *testing.T) {
	for _, tc := range goldenCases {
		c, err := New(goldenTable(), append(tc.opts, WithRates())...)
		if err != nil {
			t.Fatal(err)
		}
		described := map[string]bool{}
		ch := make(chan *prometheus.Desc)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			described[d.String()] = true
		}
		mch := make(chan prometheus.Metric)
		go func() { c.Collect(mch); close(mch) }()
		for m := range mch {
			if !described[m.Desc().String()] {
				t.Errorf("%s: collected %s, which Describe did not send", tc.name, m.Desc())
			}
		}
	}
}

// TestNamespacesShareARegistry registers the Collectors of two namespaces
// in one registry, as the exporter does, and refuses a third that repeats
// a namespace's label.
func TestNamespacesShareARegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	for _, ns := range []string{"", "ingress_sbox"} {
		c, err := New(goldenTable(), WithNetNS(ns))
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Register(c); err != nil {
			t.Fatalf("netns %q: %v", ns, err)
		}
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	c, _ := New(goldenTable(), WithNetNS("ingress_sbox"))
	if err := reg.Register(c); err == nil {
		t.Error("a second Collector with the same netns label was registered")
	}
}

func TestOptionsRefused(t *testing.T) {
	for _, tc := range []struct {
		opt  Option
		want string
	}{
		{WithLabels("address", "vip"), `"vip"`},
		{WithTimeout(0), "timeout 0s"},
		{WithNetNS("\xff"), "not UTF-8"},
	} {
		if _, err := New(goldenTable(), tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one with %s", err, tc.want)
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestLint(t *testing.T) {
	c, err := New(goldenTable(), WithRates(), WithNetNS("a"))
	if err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestRowHoldsEveryValue(t *testing.T) {
	if rowValues != 2*len(counterNames)+len(destGauges) {
		t.Errorf("rowValues is %d, want %d", rowValues, 2*len(counterNames)+len(destGauges))
	}
	if n := slices.Max([]int{len(extraLabels[kindServiceInfo]), len(extraLabels[kindDestInfo])}); netnsColumn != len(identityLabels)+n {
		t.Errorf("netnsColumn is %d, want %d", netnsColumn, len(identityLabels)+n)
	}
}

// TestWithoutDestinationsReadsServices checks that a Collector without
// destination metrics reads the services alone when its Source can, and
// the whole table when it can not.
func TestWithoutDestinationsReadsServices(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		opts                 []Option
		plain                bool
		wantVS, wantServices int
	}{
		{"destinations", nil, false, 1, 0},
		{"without", []Option{WithoutDestinations()}, false, 0, 1},
		{"without, a Source that only has VirtualServers", []Option{WithoutDestinations()}, true, 1, 0},
	} {
		src := goldenTable()
		var s Source = src
		if tc.plain {
			s = plainSource{src}
		}
		c, err := New(s, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if n := testutil.CollectAndCount(c, "ipvs_service_connections_total"); n == 0 {
			t.Errorf("%s: no service series", tc.name)
		}
		if src.vsReads != tc.wantVS || src.serviceReads != tc.wantServices {
			t.Errorf("%s: %d reads of VirtualServers and %d of Services, want %d and %d",
				tc.name, src.vsReads, src.serviceReads, tc.wantVS, tc.wantServices)
		}
	}
}
