package exporter_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

// liveTable is a Source whose counters grow at every read, as a busy
// director's do.
type liveTable struct {
	mu    sync.Mutex
	vss   []ipvs.VirtualServer
	reads uint64
}

func (l *liveTable) VirtualServers(context.Context) ([]ipvs.VirtualServer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	out := slices.Clone(l.vss)
	for i := range out {
		out[i].Stats = ipvs.Stats{Connections: l.reads * 10, InPackets: l.reads * 100, OutPackets: l.reads * 90,
			InBytes: l.reads * 10000, OutBytes: l.reads * 9000}
		out[i].Destinations = slices.Clone(out[i].Destinations)
		for j := range out[i].Destinations {
			d := &out[i].Destinations[j]
			d.Stats = ipvs.Stats{Connections: l.reads * uint64(d.Weight), InBytes: l.reads * 1000 * uint64(d.Weight)}
			d.ActiveConnections, d.InactiveConnections = d.Weight*2, d.Weight
		}
	}
	return out, nil
}

// Totals grow with every read too, above the services': removed ones
// count in them.
func (l *liveTable) Totals(context.Context) (ipvs.Stats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	return ipvs.Stats{Connections: l.reads * 100, InPackets: l.reads * 1000, OutPackets: l.reads * 900,
		InBytes: l.reads * 100000, OutBytes: l.reads * 90000}, nil
}

func (l *liveTable) Info(context.Context) (ipvs.Info, error) {
	return ipvs.Info{Version: ipvs.Version{Major: 1, Minor: 2, Patch: 1}, ConnectionTableSize: 4096}, nil
}
func (l *liveTable) Timeouts(context.Context) (ipvs.Timeouts, error) {
	return ipvs.Timeouts{TCP: 900 * time.Second, TCPFin: 120 * time.Second, UDP: 300 * time.Second}, nil
}
func (l *liveTable) Daemons(context.Context) ([]ipvs.Daemon, error) { return nil, nil }

func weighted(addr string, port uint16, weights ...uint32) []ipvs.Destination {
	var ds []ipvs.Destination
	for i, w := range weights {
		a := netip.MustParseAddr(addr).As16()
		a[15] += byte(i)
		ip := netip.AddrFrom16(a).Unmap()
		ds = append(ds, ipvs.Destination{Address: ip, Port: port, Weight: w})
	}
	return ds
}

// directorTable is a director's table: an IPv4 service with destinations
// of weights 1 to 4, an IPv6 service and a fwmark service.
func directorTable() *liveTable {
	return &liveTable{vss: []ipvs.VirtualServer{
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Scheduler: "wrr"},
			Destinations: weighted("10.0.1.1", 8080, 1, 2, 3, 4)},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv6, Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("2001:db8::2d"), Port: 443, Scheduler: "rr"},
			Destinations: weighted("2001:db8:1::2", 443, 1)},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, FWMark: 148, Scheduler: "rr"}, Destinations: weighted("10.0.2.1", 0, 1, 1)},
	}}
}

// fwmarkTable is a namespace of fwmark services only.
func fwmarkTable() *liveTable {
	return &liveTable{vss: []ipvs.VirtualServer{
		{Service: ipvs.Service{Family: ipvs.FamilyIPv4, FWMark: 148, Scheduler: "rr"}, Destinations: weighted("10.0.3.1", 0, 5)},
		{Service: ipvs.Service{Family: ipvs.FamilyIPv6, FWMark: 7, Scheduler: "rr"}, Destinations: weighted("2001:db8:3::1", 0, 1)},
	}}
}

// exporterOf serves the namespaces' tables as ipvs_exporter does, each
// label to its Source, and returns its host:port.
func exporterOf(t *testing.T, namespaces map[string]collector.Source) string {
	t.Helper()
	var cs []*collector.Collector
	for label, src := range namespaces {
		c, err := collector.New(src, collector.WithNetNS(label))
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", collector.TextContentType)
		if err := collector.WriteText(r.Context(), w, cs...); err != nil {
			t.Errorf("WriteText: %v", err)
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// promServer is a Prometheus started by a test.
type promServer struct {
	url string
}

// startPrometheus runs Debian's prometheus on loopback, with a temporary
// directory, scraping the targets every second as job "ipvs", until the
// test ends; without the binary the test is skipped.
func startPrometheus(t *testing.T, targets ...string) *promServer {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus is not installed (Debian: apt-get install prometheus)")
	}
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = fmt.Sprintf("%q", tg)
	}
	config := fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: ipvs\n  static_configs:\n  - targets: [%s]\n",
		strings.Join(quoted, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus:\n%s", log.String())
		}
	})
	p := &promServer{url: "http://" + addr}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus is not ready: %v\n%s", err, log.String())
		}
	}
}

// series is one series of a query's answer.
type series struct {
	Metric map[string]string
	Value  [2]any
}

func (p *promServer) get(t *testing.T, path string, params url.Values, out any) {
	t.Helper()
	resp, err := http.Get(p.url + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Status, Error string
		Data          json.RawMessage
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s %v: %v", path, params, err)
	}
	if body.Status != "success" {
		t.Fatalf("%s %v: %s", path, params, body.Error)
	}
	if err := json.Unmarshal(body.Data, out); err != nil {
		t.Fatal(err)
	}
}

// query evaluates expr now.
func (p *promServer) query(t *testing.T, expr string) []series {
	t.Helper()
	var data struct{ Result []series }
	p.get(t, "/api/v1/query", url.Values{"query": {expr}}, &data)
	return data.Result
}

// labelValues answers a variable's label_values(selector, label) as
// Grafana asks Prometheus for it.
func (p *promServer) labelValues(t *testing.T, variable string) []string {
	t.Helper()
	m := regexp.MustCompile(`^label_values\((.*), *(\w+)\)$`).FindStringSubmatch(variable)
	if m == nil {
		t.Fatalf("not a label_values query: %s", variable)
	}
	var values []string
	p.get(t, "/api/v1/label/"+m[2]+"/values", url.Values{"match[]": {m[1]}}, &values)
	return values
}

// grafana fills in the dashboard's variables as Grafana does for the
// values given, regular expressions escaped; "All" is ".*".
func grafana(expr string, vars map[string]string) string {
	r := []string{"$__rate_interval", "5s"}
	for _, name := range []string{"job", "instance", "service"} {
		v, ok := vars[name]
		if !ok {
			v = ".*"
		} else {
			v = strings.ReplaceAll(regexp.QuoteMeta(v), `\`, `\\`)
		}
		r = append(r, "$"+name, v)
	}
	return strings.NewReplacer(r...).Replace(expr)
}

// legend renders a legend format for a series.
func legend(format string, labels map[string]string) string {
	return regexp.MustCompile(`\{\{ *(\w+) *\}\}`).ReplaceAllStringFunc(format, func(m string) string {
		return labels[strings.Trim(m, "{} ")]
	})
}

// TestDashboardAgainstPrometheus scrapes three directors with a real
// Prometheus and evaluates every query of the dashboard against it, as
// Grafana would: every query parses and answers, no panel adds two
// directors together, legends name IPv6 and fwmark services readably,
// and the dropdowns have values for a default single-namespace exporter
// and for one of a fwmark-only namespace.
func TestDashboardAgainstPrometheus(t *testing.T) {
	a := exporterOf(t, map[string]collector.Source{"": directorTable()})
	b := exporterOf(t, map[string]collector.Source{"": directorTable(), "swarm": fwmarkTable()})
	c := exporterOf(t, map[string]collector.Source{"fw": fwmarkTable()})
	p := startPrometheus(t, a, b, c)
	// Enough samples for rate() over 5 s.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(250 * time.Millisecond) {
		if s := p.query(t, `min(count_over_time(ipvs_up[1m])) >= 6 and count(count_over_time(ipvs_up[1m])) == 4`); len(s) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus has not scraped every exporter six times in a minute")
		}
	}
	queries := dashboardQueries(t)
	instances := []string{a, b, c}
	slices.Sort(instances)

	for _, q := range queries {
		if q.variable {
			if vs := p.labelValues(t, grafana(q.expr, nil)); len(vs) == 0 {
				t.Errorf("%s: no values: %s", q.panel, q.expr)
			}
			continue
		}
		res := p.query(t, grafana(q.expr, nil))
		if len(res) == 0 {
			t.Errorf("%s: no data: %s", q.panel, q.expr)
			continue
		}
		// Per director: every answer has the instance, and all three
		// directors answer the queries that concern them all.
		var got []string
		for _, s := range res {
			if s.Metric["instance"] == "" {
				t.Errorf("%s: a series without its director: %v (%s)", q.panel, s.Metric, q.expr)
			}
			if !slices.Contains(got, s.Metric["instance"]) {
				got = append(got, s.Metric["instance"])
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, instances) {
			t.Errorf("%s: directors %v, want %v: %s", q.panel, got, instances, q.expr)
		}
	}

	byPanel := map[string]query{}
	for _, q := range queries {
		byPanel[q.panel] = q
	}
	// Weights per director, not added up across directors.
	w := byPanel["Weight per destination"]
	weights := map[string][]string{}
	for _, s := range p.query(t, grafana(w.expr, map[string]string{"service": "tcp 10.0.0.1:80"})) {
		weights[s.Metric["instance"]] = append(weights[s.Metric["instance"]], s.Value[1].(string))
	}
	for _, inst := range []string{a, b} {
		slices.Sort(weights[inst])
		if !slices.Equal(weights[inst], []string{"1", "2", "3", "4"}) {
			t.Errorf("weights of tcp 10.0.0.1:80 on %s: %v, want 1 2 3 4", inst, weights[inst])
		}
	}
	if len(weights) != 2 {
		t.Errorf("tcp 10.0.0.1:80 selected on %d directors, want 2: %v", len(weights), weights)
	}

	// Legends.
	var legends []string
	for _, s := range p.query(t, grafana(byPanel["New connections per service"].expr, nil)) {
		legends = append(legends, legend(byPanel["New connections per service"].legend, s.Metric))
	}
	for _, want := range []string{"tcp [2001:db8::2d]:443 on " + a, "fwmark 148 ipv4 on " + c + " fw", "fwmark 148 ipv4 on " + b + " swarm",
		"tcp 10.0.0.1:80 on " + a} {
		if !slices.ContainsFunc(legends, func(l string) bool { return strings.TrimSpace(l) == want }) {
			t.Errorf("no legend %q among %q", want, legends)
		}
	}
	dl := byPanel["Weight per destination"]
	var destLegends []string
	for _, s := range p.query(t, grafana(dl.expr, map[string]string{"service": "tcp [2001:db8::2d]:443", "instance": a})) {
		destLegends = append(destLegends, strings.TrimSpace(legend(dl.legend, s.Metric)))
	}
	if want := []string{"tcp [2001:db8::2d]:443 → [2001:db8:1::2]:443 on " + a}; !slices.Equal(destLegends, want) {
		t.Errorf("destination legends %q, want %q", destLegends, want)
	}

	// Dropdowns of a default single-namespace exporter, and of one of a
	// fwmark-only namespace.
	vars := map[string]string{}
	for _, q := range queries {
		if q.variable {
			vars[strings.TrimPrefix(q.panel, "variable ")] = q.expr
		}
	}
	for inst, want := range map[string][]string{a: {"fwmark 148 ipv4", "tcp 10.0.0.1:80", "tcp [2001:db8::2d]:443"}, c: {"fwmark 148 ipv4", "fwmark 7 ipv6"}} {
		got := p.labelValues(t, grafana(vars["service"], map[string]string{"instance": inst}))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("services of %s: %q, want %q", inst, got, want)
		}
		if got := p.labelValues(t, grafana(vars["instance"], map[string]string{"job": "ipvs"})); !slices.Contains(got, inst) {
			t.Errorf("directors %q, without %s", got, inst)
		}
	}
}
