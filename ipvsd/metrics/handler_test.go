package metrics

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/exporter/collector"
	"github.com/ipvs-go/ipvs/ipvsd/director"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// TestHandlerWithTable: with the table's collector, a scrape holds the
// registry's metrics and the table's, each family once, in the text
// format, gzipped when the scraper accepts it.
func TestHandlerWithTable(t *testing.T) {
	client := ipvstest.NewFake().Client(t)
	ctx := context.Background()
	svc := ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80, Scheduler: "rr"}
	if err := client.CreateService(ctx, svc); err != nil {
		t.Fatal(err)
	}
	dst := ipvs.Destination{Address: netip.MustParseAddr("10.0.0.1"), Port: 8080, Forward: ipvs.ForwardMasquerade, Weight: 3}
	if err := client.CreateDestination(ctx, svc, dst); err != nil {
		t.Fatal(err)
	}
	tc, err := collector.New(client)
	if err != nil {
		t.Fatal(err)
	}
	m := New(tc)
	m.Synced(director.SyncReport{Duration: time.Millisecond})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	for _, gz := range []bool{false, true} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		// The transport would ask for gzip and undo it unseen.
		req.Header.Set("Accept-Encoding", map[bool]string{false: "identity", true: "gzip"}[gz])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		if gz {
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("asked for gzip, got %q", resp.Header.Get("Content-Encoding"))
			}
			if body, err = gzip.NewReader(resp.Body); err != nil {
				t.Fatal(err)
			}
		}
		text, err := io.ReadAll(body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if ct := resp.Header.Get("Content-Type"); ct != collector.TextContentType {
			t.Errorf("content type %q", ct)
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(string(text)))
		if err != nil {
			t.Fatalf("gzip %v: the scrape does not parse: %v\n%s", gz, err, text)
		}
		for _, name := range []string{"ipvsd_syncs_total", "go_goroutines", "ipvs_destination_weight", "ipvs_service_info"} {
			if fams[name] == nil {
				t.Errorf("gzip %v: no %s in the scrape", gz, name)
			}
		}
		if w := fams["ipvs_destination_weight"]; w != nil && (len(w.Metric) != 1 || w.Metric[0].GetGauge().GetValue() != 3) {
			t.Errorf("ipvs_destination_weight: %v", w)
		}
		if !strings.Contains(string(text), `ipvsd_syncs_total{result="ok"} 1`) {
			t.Errorf("the registry's counters are not in the scrape")
		}
	}
}

// TestHandlerIsTheExporters: with the table's collector, the handler is
// collector.Handler, as the README says: gzip by its weight, and a
// scrape bounded by the timeout the scraper announces.
func TestHandlerIsTheExporters(t *testing.T) {
	tc, err := collector.New(ipvstest.NewFake().Client(t))
	if err != nil {
		t.Fatal(err)
	}
	h := New(tc).Handler()
	rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip;q=0")
	req.Header.Set(collector.ScrapeTimeoutHeader, "10")
	before := time.Now()
	h.ServeHTTP(rec, req)
	after := time.Now()
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0: %d, Content-Encoding %q; want 200, not gzipped", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	if want := 10*time.Second - scrapeTimeoutOffset; rec.deadline.Before(before.Add(want)) || rec.deadline.After(after.Add(want)) {
		t.Errorf("a scrape announced to wait 10 s may write for %v, want %v", rec.deadline.Sub(before), want)
	}
}

// deadlineRecorder records the write deadline set on it.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	deadline time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.deadline = t
	return nil
}
