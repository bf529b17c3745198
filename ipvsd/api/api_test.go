package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/ipvsd/director"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// noChecks stands for a check scheduler that has run no check yet.
type noChecks struct{}

func (noChecks) Set([]check.Definition) error { return nil }
func (noChecks) Statuses() []check.Status     { return nil }
func (noChecks) Changes() <-chan struct{}     { return nil }
func (noChecks) LastTick() time.Time          { return time.Now() }

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	f := ipvstest.NewFake()
	c := f.Client(t)
	d := director.New(director.Options{Client: c, Checks: noChecks{}})
	cfg, err := config.Parse("f.yaml", []byte("virtual_servers:\n  - {name: web, address: 192.0.2.1, port: 80, real_servers: [{address: 10.0.0.1}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(NewHandler(Options{Director: d, Table: c.VirtualServers}))
	t.Cleanup(s.Close)
	return s
}

func do(t *testing.T, s *httptest.Server, method, path, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestErrors: each kind of wrong request gets its status and a body that
// says why.
func TestErrors(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/api/v1/virtual-servers/none", "", 404, `virtual server \"none\": not found`},
		{"POST", "/api/v1/virtual-servers/web/real-servers/10.0.0.1:80/explode", "", 400, "not an action"},
		{"POST", "/api/v1/virtual-servers/web/real-servers/10.0.0.9:80/drain", "", 404, "not found"},
		{"PUT", "/api/v1/virtual-servers/web", "address: 192.0.2.1\nport: x\n", 400, `"line": 2`},
		{"PUT", "/api/v1/virtual-servers/other", "address: 192.0.2.1\nport: 80\n", 409, "are both tcp 192.0.2.1:80"},
		{"PUT", "/api/v1/virtual-servers/big", strings.Repeat("#", maxVirtualServer+1), 400, "larger than"},
		{"POST", "/api/v1/virtual-servers/web/revert", "", 404, "no change made through the API"},
		{"POST", "/api/v1/reload", "", 501, "no reload here"},
		{"POST", "/api/v1/plan", "virtual_servers: [{address: nowhere}]", 400, `"field": "virtual_servers[0].address"`},
	} {
		code, body := do(t, s, tc.method, tc.path, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.path, code, body, tc.code, tc.want)
		}
	}
}

// TestPlanText: the plan of the configuration in force, before any sync,
// in text, with its reasons.
func TestPlanText(t *testing.T) {
	s := newServer(t)
	code, body := do(t, s, "GET", "/api/v1/plan", "", "Accept", "text/plain")
	want := "create service tcp 192.0.2.1:80: not in the table (scheduler wlc) [virtual server web]\n" +
		"create destination 10.0.0.1:80 of tcp 192.0.2.1:80: not in the table (masq, weight 1) [up: no checks]\n"
	if code != 200 || body != want {
		t.Errorf("%d\n%s\nwant\n%s", code, body, want)
	}
}

// TestVirtualServerReadsItsService: with Destinations, the status of one
// virtual server reads its service alone, and shows its real servers as
// the table holds them.
func TestVirtualServerReadsItsService(t *testing.T) {
	f := ipvstest.NewFake()
	c := f.Client(t)
	d := director.New(director.Options{Client: c, Checks: noChecks{}})
	cfg, err := config.Parse("f.yaml", []byte("virtual_servers:\n  - {name: web, address: 192.0.2.1, port: 80, real_servers: [{address: 10.0.0.1, weight: 3}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	var reads []string
	s := httptest.NewServer(NewHandler(Options{Director: d,
		Table: func(context.Context) ([]ipvs.VirtualServer, error) {
			t.Error("read the whole table")
			return nil, nil
		},
		Destinations: func(ctx context.Context, svc ipvs.Service) ([]ipvs.Destination, error) {
			reads = append(reads, svc.String())
			return c.Destinations(ctx, svc)
		}}))
	t.Cleanup(s.Close)
	if code, body := do(t, s, "GET", "/api/v1/virtual-servers/web", ""); code != 200 || strings.Contains(body, `"actual"`) {
		t.Fatalf("before the service is in the table: %d %s", code, body)
	}
	svc, _ := d.ServiceOf("web")
	dst := ipvs.Destination{Address: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 3}
	if err := c.CreateService(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDestination(context.Background(), svc, dst); err != nil {
		t.Fatal(err)
	}
	if code, body := do(t, s, "GET", "/api/v1/virtual-servers/web", ""); code != 200 || !strings.Contains(strings.Join(strings.Fields(body), ""), `"actual":{"weight":3,`) {
		t.Fatalf("in the table: %d %s", code, body)
	}
	if want := []string{"tcp 192.0.2.1:80", "tcp 192.0.2.1:80"}; !slices.Equal(reads, want) {
		t.Errorf("reads %q, want %q", reads, want)
	}
}
