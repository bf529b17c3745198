//go:build integration && linux

package exporter_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ipvs-go/ipvs/internal/netns"
)

type counters struct{ Connections, InPackets, OutPackets, InBytes, OutBytes uint64 }

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

type scraped struct {
	counters    table
	weights     map[string]float64
	up, entries float64
	errors      float64 // of the virtual_servers operation
	netns       string  // of ipvs_up
	// totals are the namespace's totals, and their rates if exported.
	totals ipvs.Stats
}

// totalFields are the families of the namespace's totals and their rates.
var totalFields = map[string]func(*ipvs.Stats) *uint64{
	"ipvs_connections_total":           func(s *ipvs.Stats) *uint64 { return &s.Connections },
	"ipvs_incoming_packets_total":      func(s *ipvs.Stats) *uint64 { return &s.InPackets },
	"ipvs_outgoing_packets_total":      func(s *ipvs.Stats) *uint64 { return &s.OutPackets },
	"ipvs_incoming_bytes_total":        func(s *ipvs.Stats) *uint64 { return &s.InBytes },
	"ipvs_outgoing_bytes_total":        func(s *ipvs.Stats) *uint64 { return &s.OutBytes },
	"ipvs_connections_per_second":      func(s *ipvs.Stats) *uint64 { return &s.ConnectionRate },
	"ipvs_incoming_packets_per_second": func(s *ipvs.Stats) *uint64 { return &s.InPacketRate },
	"ipvs_outgoing_packets_per_second": func(s *ipvs.Stats) *uint64 { return &s.OutPacketRate },
	"ipvs_incoming_bytes_per_second":   func(s *ipvs.Stats) *uint64 { return &s.InByteRate },
	"ipvs_outgoing_bytes_per_second":   func(s *ipvs.Stats) *uint64 { return &s.OutByteRate },
}

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
			if f := totalFields[name]; f != nil {
				*f(&s.totals) = uint64(m.GetCounter().GetValue() + m.GetGauge().GetValue()) // one of them is 0
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

func ipvsadmRead(t *testing.T, ns *netns.NS) table {
	t.Helper()
	out := sh(t, ns, "ipvsadm -Ln --stats --exact")
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

func newNS(t *testing.T) *netns.NS {
	t.Helper()
	ns, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func sh(t *testing.T, ns *netns.NS, cmd string) string {
	t.Helper()
	out, err := ns.Sh(cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return out
}

// settle polls cond, which compares reads of counters that the kernel
// updates every two seconds, until it holds, for 10 s at most; it reports
// whether cond held.
func settle(cond func() bool) bool {
	for attempt := 1; !cond(); attempt++ {
		if attempt == 50 {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
	return true
}
