//go:build integration && linux

package exporter_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

var (
	vip      = netip.MustParseAddrPort("10.98.1.1:80")
	backends = []netip.AddrPort{netip.MustParseAddrPort("10.98.2.1:8080"), netip.MustParseAddrPort("10.98.2.2:8080")}
)

const conns = 6

// TestKernelScrapeMatchesTable runs TCP traffic from a client namespace
// through a service with two destinations, serves /metrics over HTTP
// from the collector, and checks that the scraped counters equal the
// library's own read and ipvsadm -Ln --stats --exact.
func TestKernelScrapeMatchesTable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	director, client := newNetNS(t), newNetNS(t)
	connect(t, director, client)
	c, err := ipvs.New(&ipvs.Config{NetNS: director.fd()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	for _, b := range backends {
		echo(t, director, b)
	}
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: vip.Addr(), Port: vip.Port(), Scheduler: "rr"}
	if err := c.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	for i, b := range backends {
		d := ipvs.Destination{Address: b.Addr(), Port: b.Port(), Forward: ipvs.ForwardMasquerade, Weight: uint32(i + 1)}
		if err := c.CreateDestination(ctx, svc, d); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.do(func() error { return traffic(conns) }); err != nil {
		t.Fatalf("traffic: %v", err)
	}

	url := serve(t, c, collector.WithConnectionStates(), collector.WithNetNS("director"))
	binary := startExporter(t, director)

	// The kernel folds its per-CPU counters into the ones it reports every
	// two seconds, so three reads agree only between two library reads
	// that agree with each other.
	for attempt := 1; ; attempt++ {
		before := libraryRead(ctx, t, c)
		scraped, gathered, written := scrape(t, url+"/metrics"), scrape(t, url+"/gather"), scrape(t, url+"/text")
		adm := ipvsadmRead(t, director)
		after := libraryRead(ctx, t, c)
		if !maps.Equal(before, after) || before[svc.String()].Connections < conns {
			if attempt == 50 {
				t.Fatalf("the counters did not settle: %v, then %v", before, after)
			}
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if got := before[svc.String()].Connections; got != conns {
			t.Errorf("the service scheduled %d connections, want %d", got, conns)
		}
		for _, b := range backends {
			if got := before[b.String()].Connections; got != conns/2 {
				t.Errorf("%s got %d connections, want %d (round robin)", b, got, conns/2)
			}
		}
		compare(t, "scraped", scraped.counters, before)
		compare(t, "scraped through Gather", gathered.counters, before)
		compare(t, "scraped through WriteText", written.counters, before)
		if binary != "" {
			compare(t, "scraped from ipvs_exporter", scrape(t, binary+"/metrics").counters, before)
		}
		compare(t, "ipvsadm", adm, before)
		for i, b := range backends {
			if w := scraped.weights[b.String()]; w != float64(i+1) {
				t.Errorf("%s: scraped weight %v, want %d", b, w, i+1)
			}
		}
		if scraped.netns != "director" {
			t.Errorf("netns label %q, want director", scraped.netns)
		}
		if scraped.up != 1 {
			t.Errorf("ipvs_up %v, want 1", scraped.up)
		}
		if scraped.entries != conns {
			t.Errorf("the connection table has %v entries by state, want %d", scraped.entries, conns)
		}
		return
	}
}

// serve serves the metrics of a collector of src over HTTP, until the
// test ends, and returns their URL: at /metrics through a pedantic
// registry, which refuses a repeated series, at /gather through the
// Collector's own Gather, and at /text through WriteText, as ipvs_exporter
// serves it.
func serve(t *testing.T, src collector.Source, opts ...collector.Option) string {
	t.Helper()
	c, err := collector.New(src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	mux.Handle("/gather", promhttp.HandlerFor(c, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", collector.TextContentType)
		if err := collector.WriteText(w, c); err != nil {
			t.Errorf("WriteText: %v", err)
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// startExporter runs the ipvs_exporter that VM_FILES copies beside the
// test, on ns, and returns its URL once it answers; without the binary it
// logs that its HTTP path goes unchecked and returns "". Go's client asks
// for gzip, so a scrape also reads the exporter's compressed path.
func startExporter(t *testing.T, ns *netNS) string {
	t.Helper()
	p, err := filepath.Abs("ipvs_exporter")
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		t.Logf("no ipvs_exporter beside the test (VM_FILES), so its HTTP path is not checked: %v", err)
		return ""
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(p, "--web.listen-address="+addr, fmt.Sprintf("--netns=/proc/%d/fd/%d", os.Getpid(), ns.fd()))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url + "/metrics")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			t.Fatalf("ipvs_exporter does not answer: %v", err)
		}
	}
}

// echo serves addr in ns: each connection's bytes are sent back.
func echo(t *testing.T, ns *netNS, addr netip.AddrPort) {
	var l net.Listener
	if err := ns.do(func() error {
		var err error
		l, err = net.Listen("tcp", addr.String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_, _ = io.Copy(conn, conn)
			}()
		}
	}()
}

// traffic makes n connections to the VIP, each sending a few hundred
// bytes and reading them back.
func traffic(n int) error {
	msg := strings.Repeat("ipvs", 100)
	for i := range n {
		conn, err := net.DialTimeout("tcp", vip.String(), 5*time.Second)
		if err != nil {
			return err
		}
		err = exchange(conn.(*net.TCPConn), msg)
		conn.Close()
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
	}
	return nil
}

// exchange sends msg on conn and checks that it comes back.
func exchange(conn *net.TCPConn, msg string) error {
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, msg); err != nil {
		return err
	}
	if err := conn.CloseWrite(); err != nil {
		return err
	}
	got, err := io.ReadAll(conn)
	if err == nil && string(got) != msg {
		err = fmt.Errorf("echoed %d bytes, want %d", len(got), len(msg))
	}
	return err
}

// counters are the five counters of an object.
type counters struct{ Connections, InPackets, OutPackets, InBytes, OutBytes uint64 }

// table maps an object, a service as its String or a destination as
// address:port, to its counters.
type table map[string]counters

func libraryRead(ctx context.Context, t *testing.T, c *ipvs.Client) table {
	t.Helper()
	vss, err := c.VirtualServers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tab := table{}
	for _, vs := range vss {
		s := vs.Stats
		tab[vs.Service.String()] = counters{s.Connections, s.InPackets, s.OutPackets, s.InBytes, s.OutBytes}
		for _, d := range vs.Destinations {
			s := d.Stats
			tab[d.String()] = counters{s.Connections, s.InPackets, s.OutPackets, s.InBytes, s.OutBytes}
		}
	}
	return tab
}

func compare(t *testing.T, source string, got, want table) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d objects, want %d: %v", source, len(got), len(want), got)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %s has %+v, the library read %+v", source, k, got[k], w)
		}
	}
}

// scraped is what the test reads from an exposition.
type scraped struct {
	counters    table
	weights     map[string]float64
	up, entries float64
	errors      float64 // of the virtual_servers operation
	netns       string  // of ipvs_up
}

// scrape gets url and reads the counters of the one service and its
// destinations, their weights, ipvs_up and the connection table entries.
func scrape(t *testing.T, url string) scraped {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s\n%s", resp.Status, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	s := scraped{counters: table{}, weights: map[string]float64{}}
	fields := map[string]func(*counters) *uint64{
		"connections_total":      func(c *counters) *uint64 { return &c.Connections },
		"incoming_packets_total": func(c *counters) *uint64 { return &c.InPackets },
		"outgoing_packets_total": func(c *counters) *uint64 { return &c.OutPackets },
		"incoming_bytes_total":   func(c *counters) *uint64 { return &c.InBytes },
		"outgoing_bytes_total":   func(c *counters) *uint64 { return &c.OutBytes },
	}
	for family, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name, l := family, labels(m)
			if !strings.HasPrefix(name, "ipvs_") {
				continue
			}
			key := l["protocol"] + " " + net.JoinHostPort(l["address"], l["port"])
			if rest, ok := strings.CutPrefix(name, "ipvs_destination_"); ok {
				key = net.JoinHostPort(l["dest_address"], l["dest_port"])
				if rest == "weight" {
					s.weights[key] = m.GetGauge().GetValue()
				}
				name = "ipvs_service_" + rest
			}
			if f := fields[strings.TrimPrefix(name, "ipvs_service_")]; f != nil {
				c := s.counters[key]
				*f(&c) = uint64(m.GetCounter().GetValue())
				s.counters[key] = c
			}
			switch name {
			case "ipvs_up":
				s.up, s.netns = m.GetGauge().GetValue(), l["netns"]
			case "ipvs_scrape_errors_total":
				if l["operation"] == "virtual_servers" {
					s.errors = m.GetCounter().GetValue()
				}
			case "ipvs_connection_table_entries":
				s.entries += m.GetGauge().GetValue()
			}
		}
	}
	return s
}

func labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// ipvsadmRead parses ipvsadm -Ln --stats --exact, run in ns.
func ipvsadmRead(t *testing.T, ns *netNS) table {
	t.Helper()
	out := ns.sh(t, "ipvsadm -Ln --stats --exact")
	tab := table{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var key string
		var nums []string
		switch {
		case len(f) == 7 && f[0] == "->":
			key, nums = f[1], f[2:]
		case len(f) == 7 && (f[0] == "TCP" || f[0] == "UDP" || f[0] == "SCTP"):
			key, nums = strings.ToLower(f[0])+" "+f[1], f[2:]
		default:
			continue // the headers
		}
		var v [5]uint64
		for i, n := range nums {
			var err error
			if v[i], err = strconv.ParseUint(n, 10, 64); err != nil {
				t.Fatalf("ipvsadm line %q: %v", sc.Text(), err)
			}
		}
		tab[key] = counters{v[0], v[1], v[2], v[3], v[4]}
	}
	if len(tab) == 0 {
		t.Fatalf("nothing parsed from ipvsadm:\n%s", out)
	}
	return tab
}
