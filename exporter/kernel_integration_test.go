//go:build integration && linux

package exporter_test

import (
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
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipvs-go/ipvs/exporter/collector"
	"github.com/ipvs-go/ipvs/internal/netns"
)

var (
	// The VIP is on the director's lo, reached from the client namespace
	// (netns.NS.Client); the backends are on lo too.
	vip      = netip.MustParseAddrPort("10.99.1.1:80")
	backends = []netip.AddrPort{netip.MustParseAddrPort("10.99.2.1:8080"), netip.MustParseAddrPort("10.99.2.2:8080")}
)

const conns = 6

// TestKernelScrapeMatchesTable runs TCP traffic from a client namespace
// through a service with two destinations, serves /metrics over HTTP
// from the collector, and checks that the scraped counters equal the
// library's own read and ipvsadm -Ln --stats --exact.
func TestKernelScrapeMatchesTable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	director, c, svc := balance(ctx, t)

	url := serve(t, c, collector.WithConnectionStates(), collector.WithNetNS("director"))
	binary := startExporter(t, director)

	// The kernel folds its per-CPU counters into the ones it reports every
	// two seconds, so three reads agree only between two library reads
	// that agree with each other.
	var before, after table
	settled := settle(func() bool {
		before = libraryRead(ctx, t, c)
		scraped, written := scrape(t, url+"/metrics"), scrape(t, url+"/text")
		adm := ipvsadmRead(t, director)
		after = libraryRead(ctx, t, c)
		if !maps.Equal(before, after) || before[svc.String()].Connections < conns {
			return false
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
		return true
	})
	if !settled {
		t.Fatalf("the counters did not settle: %v, then %v", before, after)
	}
}

// balance makes a director namespace with a TCP service at vip whose
// destinations are echo servers at backends, and runs conns connections
// through it from a client namespace over veth. It returns the director,
// a client of its IPVS and the service.
func balance(ctx context.Context, t *testing.T) (*netns.NS, *ipvs.Client, ipvs.Service) {
	t.Helper()
	director := newNS(t)
	client, err := director.Client()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sh(t, director, "ip addr add 10.99.2.1/32 dev lo && ip addr add 10.99.2.2/32 dev lo")
	c, err := ipvs.New(&ipvs.Config{NetNS: director.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

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
	if err := client.Do(func() error { return traffic(conns) }); err != nil {
		t.Fatalf("traffic: %v", err)
	}
	return director, c, svc
}

// serve serves the metrics of a collector of src over HTTP, until the
// test ends, and returns their URL: at /metrics through a pedantic
// registry, which refuses a repeated series, and at /text through
// WriteText, as ipvs_exporter serves it.
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
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", collector.TextContentType)
		if err := collector.WriteText(r.Context(), w, c); err != nil {
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
func startExporter(t *testing.T, ns *netns.NS) string {
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
	cmd := exec.Command(p, "--web.listen-address="+addr, fmt.Sprintf("--netns=/proc/%d/fd/%d", os.Getpid(), ns.Fd()))
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
func echo(t *testing.T, ns *netns.NS, addr netip.AddrPort) {
	var l net.Listener
	if err := ns.Do(func() error {
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
// table maps an object, a service as its String or a destination as
// address:port, to its counters.
// scraped is what the test reads from an exposition.
// scrape gets url and reads the counters of the one service and its
// destinations, their weights, ipvs_up and the connection table entries.
// ipvsadmRead parses ipvsadm -Ln --stats --exact, run in ns.
// newNS makes a network namespace with lo up, released when the test
// ends.
// sh runs a shell command in ns and returns its output; a failure ends
// the test.
