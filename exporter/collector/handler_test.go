package collector

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"": false, "gzip": true, "deflate, GZIP;q=0.5": true, "gzip;q=0": false, "gzip; q=0.000": false,
		"br, identity": false, "x-gzip": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

// TestHandlerGzip: a scrape is gzipped when the scraper accepts gzip,
// and plain otherwise; either way it is the text format, with the
// registry's metrics and the table's.
func TestHandlerGzip(t *testing.T) {
	c, err := New(goldenTable())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "handler_test_total", Help: "A counter of the registry."}))
	h := Handler(reg, HandlerOpts{}, c)
	for header, gz := range map[string]bool{"gzip": true, "deflate, gzip;q=0.5": true, "gzip;q=0": false, "": false, "x-gzip": false} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept-Encoding", header)
		h.ServeHTTP(rec, req)
		if got := rec.Header().Get("Content-Encoding") == "gzip"; got != gz {
			t.Errorf("Accept-Encoding %q: gzipped %v, want %v", header, got, gz)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct != TextContentType {
			t.Errorf("Accept-Encoding %q: Content-Type %q", header, ct)
		}
		var body io.Reader = rec.Body
		if gz {
			if body, err = gzip.NewReader(rec.Body); err != nil {
				t.Fatal(err)
			}
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := parser.TextToMetricFamilies(body)
		if err != nil {
			t.Fatalf("Accept-Encoding %q: %v", header, err)
		}
		for _, name := range []string{"handler_test_total", "ipvs_up", "ipvs_destination_weight"} {
			if mfs[name] == nil {
				t.Errorf("Accept-Encoding %q: no %s", header, name)
			}
		}
	}
}

// deadlineRecorder is a ResponseWriter that records the write deadline
// set on it, as http.ResponseController sets it.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	deadline time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.deadline = t
	return nil
}

// gatedSource is a table whose reads record their context's deadline
// and, with a gate, wait for it to close or for their context to end.
type gatedSource struct {
	vss  []ipvs.VirtualServer
	gate chan struct{}

	mu        sync.Mutex
	reading   int
	deadlines []time.Time
}

func (g *gatedSource) VirtualServers(ctx context.Context) ([]ipvs.VirtualServer, error) {
	g.mu.Lock()
	g.reading++
	d, _ := ctx.Deadline()
	g.deadlines = append(g.deadlines, d)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.reading--
		g.mu.Unlock()
	}()
	if g.gate != nil {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.vss, nil
}

func (g *gatedSource) underWay() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reading
}

func (*gatedSource) Info(context.Context) (ipvs.Info, error)         { return ipvs.Info{}, nil }
func (*gatedSource) Timeouts(context.Context) (ipvs.Timeouts, error) { return ipvs.Timeouts{}, nil }
func (*gatedSource) Daemons(context.Context) ([]ipvs.Daemon, error)  { return nil, nil }

// TestHandlerTimeout: a scrape's deadline, for its writes and its read
// of the table alike, is HandlerOpts.Timeout, or the timeout the scraper
// announces less the offset when that is shorter; without either, there
// is none.
func TestHandlerTimeout(t *testing.T) {
	for _, tc := range []struct {
		timeout, offset time.Duration
		header          string
		want            time.Duration // 0: no deadline
	}{
		{10 * time.Second, time.Second, "", 10 * time.Second},
		{10 * time.Second, time.Second, "5", 4 * time.Second},
		{10 * time.Second, time.Second, "10.5", 9500 * time.Millisecond},
		{10 * time.Second, time.Second, "20", 10 * time.Second},
		{10 * time.Second, time.Second, "0.5", 500 * time.Millisecond}, // the offset would leave nothing
		{10 * time.Second, time.Second, "soon", 10 * time.Second},
		{10 * time.Second, time.Second, "-1", 10 * time.Second},
		{0, time.Second, "", 0},
		{0, time.Second, "30", 29 * time.Second},
	} {
		src := &gatedSource{}
		c, err := New(src, WithTimeout(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		h := Handler(prometheus.NewRegistry(), HandlerOpts{Timeout: tc.timeout, TimeoutOffset: tc.offset}, c)
		rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
		req := httptest.NewRequest("GET", "/metrics", nil)
		if tc.header != "" {
			req.Header.Set(ScrapeTimeoutHeader, tc.header)
		}
		before := time.Now()
		h.ServeHTTP(rec, req)
		after := time.Now()
		if rec.Code != http.StatusOK || len(src.deadlines) != 1 {
			t.Fatalf("%v %q: %d, %d reads", tc.timeout, tc.header, rec.Code, len(src.deadlines))
		}
		read := src.deadlines[0]
		if tc.want == 0 {
			// The Collector's own timeout is the read's only bound.
			if !rec.deadline.IsZero() || read.Sub(before) < time.Hour-time.Minute {
				t.Errorf("%v %q: write deadline %v, read's in %v; want none but the Collector's", tc.timeout, tc.header,
					rec.deadline, read.Sub(before))
			}
			continue
		}
		for what, d := range map[string]time.Time{"write": rec.deadline, "read": read} {
			if d.Before(before.Add(tc.want)) || d.After(after.Add(tc.want)) {
				t.Errorf("%v %q: the %s deadline is %v after the scrape began, want %v", tc.timeout, tc.header, what, d.Sub(before), tc.want)
			}
		}
	}
}

// TestHandlerBoundsScrapes: with MaxRequestsInFlight 1, a scrape that
// comes while another runs waits for it at most half its timeout, then
// gets 503; once the other ends, the next is served.
func TestHandlerBoundsScrapes(t *testing.T) {
	src := &gatedSource{gate: make(chan struct{})}
	c, err := New(src)
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(prometheus.NewRegistry(), HandlerOpts{MaxRequestsInFlight: 1, Timeout: time.Minute}, c)
	scrape := func(announced string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set(ScrapeTimeoutHeader, announced)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	first := make(chan int)
	go func() { first <- scrape("60") }()
	for src.underWay() == 0 {
		time.Sleep(time.Millisecond)
	}
	if code := scrape("0.2"); code != http.StatusServiceUnavailable {
		t.Errorf("a scrape while another runs: %d, want 503", code)
	}
	close(src.gate)
	if code := <-first; code != http.StatusOK {
		t.Errorf("the first scrape: %d", code)
	}
	if code := scrape("60"); code != http.StatusOK {
		t.Errorf("the scrape after: %d", code)
	}
}

var errBroken = errors.New("broken")

// TestHandlerGathersWhatItCan: a registry that fails to gather one
// metric does not cost the scrape the others, nor the table's.
func TestHandlerGathersWhatItCan(t *testing.T) {
	c, err := New(goldenTable())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "handler_test_total", Help: "A counter."}))
	broken := prometheus.Gatherers{reg, prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return nil, errBroken
	})}
	rec := httptest.NewRecorder()
	Handler(broken, HandlerOpts{}, c).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body := rec.Body.String(); !strings.Contains(body, "handler_test_total 0") || !strings.Contains(body, "ipvs_up") {
		t.Errorf("a scrape with a failed gather:\n%s", body)
	}
}
