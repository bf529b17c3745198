package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

// table is a Source of services × dests that records how its reads are
// bounded; gate, when set, holds every read of the table until it is
// closed or the read's context ends.
type table struct {
	vss  []ipvs.VirtualServer
	gate chan struct{}

	mu        sync.Mutex
	reading   int             // reads of the table under way
	most      int             // the most under way at once
	deadlines []time.Duration // each read's time left, when it began
}

func newTable(services, dests int) *table {
	t := &table{vss: make([]ipvs.VirtualServer, services)}
	for i := range t.vss {
		vs := &t.vss[i]
		vs.Service = ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP,
			Address: netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)}), Port: 80, Scheduler: "rr"}
		for j := range dests {
			vs.Destinations = append(vs.Destinations, ipvs.Destination{Address: netip.AddrFrom4([4]byte{10, 100, byte(j), byte(i)}),
				Port: uint16(8000 + i>>8), Weight: 1, Stats: ipvs.Stats{Connections: uint64(i * j)}})
		}
	}
	return t
}

func (t *table) VirtualServers(ctx context.Context) ([]ipvs.VirtualServer, error) {
	t.mu.Lock()
	t.reading++
	t.most = max(t.most, t.reading)
	if d, ok := ctx.Deadline(); ok {
		t.deadlines = append(t.deadlines, time.Until(d))
	}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.reading--
		t.mu.Unlock()
	}()
	if t.gate != nil {
		select {
		case <-t.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return t.vss, nil
}

func (t *table) Info(context.Context) (ipvs.Info, error)         { return ipvs.Info{}, nil }
func (t *table) Timeouts(context.Context) (ipvs.Timeouts, error) { return ipvs.Timeouts{}, nil }
func (t *table) Daemons(context.Context) ([]ipvs.Daemon, error)  { return nil, nil }

// underWay returns the reads under way and the most there were at once.
func (t *table) underWay() (now, most int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reading, t.most
}

// testConfig is the configuration of the tests' servers.
func testConfig(maxRequests int, timeout time.Duration) config {
	return config{destinations: true, timeout: timeout, timeoutOffset: 500 * time.Millisecond, maxRequests: maxRequests,
		readTimeout: readTimeout, idleTimeout: idleTimeout}
}

// serveTable serves src as ipvs_exporter does, with its server's bounds;
// state, if not nil, is told of every change of a connection's state.
func serveTable(t *testing.T, cfg config, src collector.Source, state func(net.Conn, http.ConnState)) *httptest.Server {
	t.Helper()
	c, err := collector.New(src, collector.WithTimeout(cfg.timeout))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = newServer(cfg, metricsHandler(cfg, []*collector.Collector{c}, slog.New(slog.DiscardHandler)))
	srv.Config.ConnState = state
	srv.Listener = smallSendBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// smallSendBuffers gives each connection a small send buffer, so that a
// scraper that stops reading blocks the server's writes soon, whatever
// the machine's TCP buffer sizes.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// TestScrapesAtOnceAreBounded sends many scrapes at once: no more than
// --web.max-requests read the table together, the others wait their turn
// and succeed, and one that cannot get a turn within half its timeout
// gets 503.
func TestScrapesAtOnceAreBounded(t *testing.T) {
	src := newTable(10, 2)
	src.gate = make(chan struct{})
	srv := serveTable(t, testConfig(2, time.Minute), src, nil)
	const scrapes = 10
	codes := make(chan int, scrapes)
	for range scrapes {
		go func() {
			resp, err := http.Get(srv.URL)
			if err != nil {
				codes <- 0
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	// Wait for two reads to be under way; more would come in as soon.
	for now, _ := src.underWay(); now < 2; now, _ = src.underWay() {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	// A scraper that gives up after 1.5 s may wait 0.5 s of it.
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set(collector.ScrapeTimeoutHeader, "1.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a scrape beyond the limit: %s, want 503\n%s", resp.Status, body)
	}
	close(src.gate)
	for range scrapes {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("a scrape that waited its turn: status %d, want 200", code)
		}
	}
	if _, most := src.underWay(); most != 2 {
		t.Errorf("%d reads of the table at once, want 2 (--web.max-requests)", most)
	}
}

// TestScrapeTimeout checks the time a scrape's reads are given: the
// scraper's X-Prometheus-Scrape-Timeout-Seconds less the offset, never
// more than --scrape.timeout.
func TestScrapeTimeout(t *testing.T) {
	src := newTable(1, 1)
	srv := serveTable(t, testConfig(1, 20*time.Second), src, nil)
	for _, tc := range []struct {
		header   string
		min, max time.Duration
	}{
		{"", 19 * time.Second, 20 * time.Second},
		{"10", 9 * time.Second, 9500 * time.Millisecond},
		{"0.3", 200 * time.Millisecond, 300 * time.Millisecond},
		{"60", 19 * time.Second, 20 * time.Second},
		{"soon", 19 * time.Second, 20 * time.Second},
		{"-1", 19 * time.Second, 20 * time.Second},
		{"1e300", 19 * time.Second, 20 * time.Second},
	} {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if tc.header != "" {
			req.Header.Set(collector.ScrapeTimeoutHeader, tc.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		src.mu.Lock()
		left := src.deadlines[len(src.deadlines)-1]
		src.mu.Unlock()
		if left < tc.min || left > tc.max {
			t.Errorf("%s %q: the read had %v left, want %v to %v", collector.ScrapeTimeoutHeader, tc.header, left, tc.min, tc.max)
		}
	}
}

// TestStalledScraperIsLetGo sends a scrape of a large table and never
// reads the answer: at the scrape's timeout the server gives up the
// connection, and with it the scrape's memory and goroutine, and the
// next scraper gets its turn.
func TestStalledScraperIsLetGo(t *testing.T) {
	closed := make(chan net.Addr, 16)
	srv := serveTable(t, testConfig(1, 3*time.Second), newTable(200, 10), func(c net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed <- c.RemoteAddr()
		}
	})
	// A small receive buffer too, so that the answer (a few MB) fills the
	// connection's buffers soon.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var err error
		_ = rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return err
	}}
	conn, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n")
	select {
	case a := <-closed:
		if a.String() != conn.LocalAddr().String() {
			t.Errorf("closed %v, want the stalled scraper's %v", a, conn.LocalAddr())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server still holds a scraper that stopped reading, 30 s after its 3 s timeout")
	}
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the next scrape: %s", resp.Status)
	}
}

// TestIdleConnectionsClosed checks that a connection that stays idle
// after a scrape, or that never finishes sending its request, is closed.
func TestIdleConnectionsClosed(t *testing.T) {
	cfg := testConfig(1, 5*time.Second)
	cfg.idleTimeout, cfg.readTimeout = 200*time.Millisecond, 200*time.Millisecond
	srv := serveTable(t, cfg, newTable(1, 1), nil)
	for _, tc := range []struct {
		name, request string
	}{
		{"idle after a scrape", "GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n"},
		{"a request never finished", "GET /metrics HTTP/1.1\r\nHost: exp"},
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(conn, tc.request)
		r := bufio.NewReader(conn)
		if tc.name == "idle after a scrape" {
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.Close {
				t.Fatalf("%s: the connection was not kept alive", tc.name)
			}
		}
		// Then the server must close it: the read ends with EOF, not at
		// the test's own deadline.
		if _, err := io.ReadAll(r); err != nil {
			t.Errorf("%s: the server kept the connection: %v", tc.name, err)
		}
		conn.Close()
	}
}
