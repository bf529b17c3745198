package check

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// serverAddr returns an httptest server's address.
func serverAddr(t *testing.T, srv *httptest.Server) netip.AddrPort {
	t.Helper()
	return srv.Listener.Addr().(*net.TCPAddr).AddrPort()
}

func TestHTTP(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Host+" "+r.URL.RequestURI()+" "+r.Header.Get("Connection"))
		mu.Unlock()
		fmt.Fprint(w, "hello, all is well")
	})
	mux.HandleFunc("/503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("/302", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(302) })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush()
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	addr := serverAddr(t, srv)
	md5sum := md5.Sum([]byte("hello, all is well"))
	shasum := sha256.Sum256([]byte("hello, all is well"))

	tests := []struct {
		name string
		http HTTPCheck
		err  string // "" passes
	}{
		{"default", HTTPCheck{}, ""},
		{"path and host", HTTPCheck{Path: "/health?full=1", Host: "www.example.com"}, ""},
		{"503", HTTPCheck{Path: "/503"}, "status: 503 not in 200-299"},
		{"503 allowed", HTTPCheck{Path: "/503", Status: []StatusRange{{200, 200}, {500, 599}}}, ""},
		{"302 in a list", HTTPCheck{Path: "/302", Status: []StatusRange{{200, 200}, {301, 302}}}, ""},
		{"302 not in it", HTTPCheck{Path: "/302", Status: []StatusRange{{200, 200}, {301, 301}}}, "status: 302 not in 200,301"},
		{"regex", HTTPCheck{Regex: "all is w[aeiou]ll"}, ""},
		{"regex fails", HTTPCheck{Regex: "^broken"}, `body: does not match "^broken"`},
		{"regex_no_match", HTTPCheck{Regex: "error", RegexNoMatch: true}, ""},
		{"regex_no_match fails", HTTPCheck{Regex: "well", RegexNoMatch: true}, `body: matches "well"`},
		{"md5", HTTPCheck{Digest: hex.EncodeToString(md5sum[:])}, ""},
		{"sha256", HTTPCheck{Digest: strings.ToUpper(hex.EncodeToString(shasum[:]))}, ""},
		{"md5 fails", HTTPCheck{Digest: strings.Repeat("0", 32)}, "body: digest " + hex.EncodeToString(md5sum[:])},
		{"digest of a long body", HTTPCheck{Digest: hex.EncodeToString(md5sum[:]), MaxBody: 5}, "body: longer than max_body (5 bytes)"},
		{"regex within max_body", HTTPCheck{Regex: "^hello$", MaxBody: 5}, ""},
		{"chunked", HTTPCheck{Path: "/chunked", Regex: "part 2;$"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := Probe(context.Background(), Definition{Kind: KindHTTP, Target: addr, Timeout: 5 * time.Second, HTTP: tt.http})
			switch {
			case tt.err == "" && out.Err != nil:
				t.Fatalf("probe: %v", out.Err)
			case tt.err != "" && out.Err == nil:
				t.Fatalf("probe passed, want %q", tt.err)
			case tt.err != "":
				if !strings.HasPrefix(out.Err.Error(), tt.err) || !errors.Is(out.Err, ErrMismatch) {
					t.Errorf("probe: %v, want %q (ErrMismatch)", out.Err, tt.err)
				}
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	want := "GET www.example.com /health?full=1 close"
	found := false
	for _, s := range seen {
		found = found || s == want
	}
	if !found {
		t.Errorf("server saw %q, none %q", seen, want)
	}
	if want := "GET " + addr.String() + " / close"; seen[0] != want {
		t.Errorf("server saw %q first, want %q (the default Host)", seen[0], want)
	}
}

// rawServer accepts on a loopback listener and hands each connection to
// serve, until the test ends.
func rawServer(t *testing.T, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	// Cleanups run last first: the listener closes, then the handlers
	// are waited for.
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	ln, addr := listen(t)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				serve(c)
			})
		}
	})
	return addr
}

// drain reads a request's head, so that the server's reply is not
// answered with a reset for unread data.
func drain(c net.Conn) {
	buf := make([]byte, 4096)
	var got []byte
	for !strings.Contains(string(got), "\r\n\r\n") {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		got = append(got, buf[:n]...)
	}
}

func TestHTTPFaults(t *testing.T) {
	const timeout = 300 * time.Millisecond
	endless := func(head string) func(net.Conn) {
		return func(c net.Conn) {
			drain(c)
			io.WriteString(c, head)
			chunk := []byte(strings.Repeat("a", 4096))
			for {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}
	}
	tests := []struct {
		name  string
		serve func(net.Conn)
		check HTTPCheck
		class error // what the error wraps; nil: any error
		text  string
	}{
		{"no answer", func(c net.Conn) { drain(c); time.Sleep(2 * timeout) }, HTTPCheck{}, ErrTimeout, "read response: timed out"},
		{"trickled head", func(c net.Conn) {
			drain(c)
			for _, b := range []byte("HTTP/1.1 200 OK\r\n") {
				if _, err := c.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(timeout / 5)
			}
		}, HTTPCheck{}, ErrTimeout, "read response: timed out"},
		{"reset", func(c net.Conn) { drain(c); c.(*net.TCPConn).SetLinger(0) }, HTTPCheck{}, nil, "read response: "},
		{"not http", func(c net.Conn) { drain(c); io.WriteString(c, "SSH-2.0-OpenSSH\r\n\r\n") }, HTTPCheck{}, ErrMismatch, "read response: malformed HTTP"},
		{"closed at once", func(c net.Conn) {}, HTTPCheck{}, nil, ""},
		{"endless head", endless("HTTP/1.1 200 OK\r\nX-A: "), HTTPCheck{}, ErrMismatch, "read response: unexpected EOF"},
		{"endless body", endless("HTTP/1.1 200 OK\r\n\r\n"), HTTPCheck{Regex: "b", MaxBody: 1 << 16}, ErrMismatch, `body: does not match "b"`},
		{"slow body", func(c net.Conn) {
			drain(c)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
			time.Sleep(2 * timeout)
		}, HTTPCheck{Regex: "b"}, ErrTimeout, "read body: timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := rawServer(t, tt.serve)
			start := time.Now()
			out := Probe(context.Background(), Definition{Kind: KindHTTP, Target: addr, Timeout: timeout, HTTP: tt.check})
			took := time.Since(start)
			if out.Err == nil {
				t.Fatal("probe passed")
			}
			if tt.class != nil && !errors.Is(out.Err, tt.class) {
				t.Errorf("probe: %v, want %v", out.Err, tt.class)
			}
			if !strings.HasPrefix(out.Err.Error(), tt.text) {
				t.Errorf("probe: %q, want it to start with %q", out.Err, tt.text)
			}
			// An attempt ends at its timeout, however the target stalls;
			// the margin is for a loaded machine, the bound for a hang.
			if took > timeout+5*time.Second {
				t.Errorf("probe took %v with a timeout of %v", took, timeout)
			}
		})
	}
}

func TestHTTPCanceled(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) { drain(c); time.Sleep(time.Second) })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	out := Probe(ctx, Definition{Kind: KindHTTP, Target: addr, Timeout: time.Minute})
	if out.Err == nil || errors.Is(out.Err, ErrTimeout) {
		t.Errorf("a canceled probe: %v, want an error that is no timeout", out.Err)
	}
}
