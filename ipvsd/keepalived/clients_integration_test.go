//go:build integration && linux

package keepalived_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// get makes n requests to vip:80 from the director's client, one
// connection each, and returns how many failed. The requests are made
// by hand on the namespace's thread: http.Transport dials on goroutines
// of its own, which would not be in the namespace.
func (d *director) get(n int) (failed int) {
	d.t.Helper()
	err := d.client.Do(func() error {
		for range n {
			if err := getOnce(netip.AddrPortFrom(netip.MustParseAddr(vip), 80)); err != nil {
				failed++
			}
		}
		return nil
	})
	if err != nil {
		d.t.Fatal(err)
	}
	return failed
}

// getOnce makes one HTTP request to addr, on the calling thread, and
// returns an error unless the answer is 200 and whole.
func getOnce(addr netip.AddrPort) error {
	c, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	return request(c, bufio.NewReader(c), "HTTP/1.0", addr.Addr().String())
}

// request sends a GET of / on c and reads the answer from r, whole: an
// error unless it is 200.
func request(c net.Conn, r *bufio.Reader, proto, host string) error {
	if _, err := io.WriteString(c, "GET / "+proto+"\r\nHost: "+host+"\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// keptConn is an HTTP/1.1 connection a client holds open through a
// director, for one request after another.
type keptConn struct {
	c net.Conn
	r *bufio.Reader
}

// openConns opens n connections to vip:80 from d's client, each with a
// first request answered.
func (d *director) openConns(n int) []*keptConn {
	d.t.Helper()
	var out []*keptConn
	err := d.client.Do(func() error {
		for range n {
			c, err := net.DialTimeout("tcp", netip.AddrPortFrom(netip.MustParseAddr(vip), 80).String(), 2*time.Second)
			if err != nil {
				return err
			}
			out = append(out, &keptConn{c: c, r: bufio.NewReader(c)})
		}
		return nil
	})
	if err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() {
		for _, c := range out {
			c.c.Close()
		}
	})
	for _, c := range out {
		if err := c.get(); err != nil {
			d.t.Fatalf("first request: %v", err)
		}
	}
	return out
}

// get sends a request on the connection and reads the answer, within a
// second.
func (c *keptConn) get() error {
	_ = c.c.SetDeadline(time.Now().Add(time.Second))
	return request(c.c, c.r, "HTTP/1.1", vip)
}

// reset ends the connection with a RST, which IPVS forgets within 10s,
// where a FIN would leave it in TIME_WAIT for two minutes.
func (c *keptConn) reset() {
	if tc, ok := c.c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.c.Close()
}
