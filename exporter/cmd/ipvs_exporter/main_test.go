package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestParseNamespaces(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []namespace
		err  string
	}{
		{nil, []namespace{{}}, ""},
		{[]string{"blue"}, []namespace{{"blue", "/var/run/netns/blue"}}, ""},
		{[]string{"", "/var/run/docker/netns/ingress_sbox"}, []namespace{{}, {"ingress_sbox", "/var/run/docker/netns/ingress_sbox"}}, ""},
		{[]string{"blue", "/run/other/blue"}, nil, `label "blue"`},
		{[]string{"", ""}, nil, `label ""`},
		{[]string{"/"}, nil, "names no namespace"},
		{[]string{".."}, nil, "not a namespace name"},
	} {
		got, err := parseNamespaces(tc.args)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want one with %s", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || len(got) != len(tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.args, got, err, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: %v, want %v", tc.args, got, tc.want)
			}
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		cfg  config
		want string
	}{
		{config{labels: "address,vip"}, `"vip"`},
		{config{include: "("}, "--collector.services.include"},
		{config{exclude: "[", include: "tcp"}, "--collector.services.exclude"},
		{config{namespaces: []string{"a", "b/a"}}, `label "a"`},
		{config{maxRequests: -1}, "--web.max-requests -1"},
		{config{timeout: -time.Second}, "--scrape.timeout -1s"},
		{config{timeoutOffset: -time.Second}, "--scrape.timeout-offset -1s"},
	} {
		if tc.cfg.timeout == 0 {
			tc.cfg.timeout = time.Second
		}
		if tc.cfg.maxRequests == 0 {
			tc.cfg.maxRequests = 1
		}
		if _, _, err := newHandler(tc.cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one with %s", tc.cfg, err, tc.want)
		}
	}
}

// TestHandlerServesEveryNamespace scrapes the handler of two namespaces.
// This host may have no IPVS, or no right to read it: then ipvs_up is 0,
// and the scrape still succeeds.
func TestHandlerServesEveryNamespace(t *testing.T) {
	cfg := config{namespaces: []string{"", "/nonexistent/ns"}, destinations: true, timeout: time.Second, maxRequests: 1}
	h, closeAll, err := newHandler(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 {
		t.Fatalf("status %d:\n%s", rec.Code, body)
	}
	for _, want := range []string{`ipvs_up{netns=""}`, `ipvs_up{netns="ns"} 0`, "promhttp_metric_handler_requests_total", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("no %s in:\n%s", want, body)
		}
	}
	// One family of both namespaces' series.
	if n := strings.Count(string(body), "# TYPE ipvs_up gauge"); n != 1 {
		t.Errorf("ipvs_up is %d families, want 1:\n%s", n, body)
	}
	// The exporter's own families come first, out of the ipvs_ ones'
	// order, which the text format allows: promtool must agree.
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool: %v\n%s", err, out)
		}
	}
}

// TestHandlerGzips checks that a scraper asking for gzip gets the text
// format compressed, and that it parses.
func TestHandlerGzips(t *testing.T) {
	h, closeAll, err := newHandler(config{destinations: true, timeout: time.Second, maxRequests: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	h.ServeHTTP(rec, req)
	if got := rec.Header().Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", got)
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(zr)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ipvs_up", "ipvs_scrape_errors_total", "promhttp_metric_handler_requests_total"} {
		if mfs[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}
