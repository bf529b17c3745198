//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ipvs-go/ipvs/internal/netns"
)

// The director's part of the demo, when make demo built ipvsd: a virtual
// server with three real servers under ipvsd, checked over HTTP; one is
// stopped (its weight goes to 0 and the client's connections move to the
// others, as the table and ipvsd's API show), then started again.

const (
	directorVIP    = "10.99.1.2:80"
	directorConfig = `director: {sync_interval: 1s}
virtual_servers:
  - name: web
    address: 10.99.1.2
    port: 80
    lvs_sched: rr
    delay_loop: 500ms
    connect_timeout: 500ms
    retry: 0
    warmup: 0s
    checks: [{type: http, path: /healthz}]
    real_servers:
      - {address: 10.99.3.1, port: 8080}
      - {address: 10.99.3.2, port: 8080}
      - {address: 10.99.3.3, port: 8080}
`
)

// directorDemo runs the director's part of the demo with the ipvsd
// program at path, in the namespace director with its client.
func directorDemo(path string, director, client *netns.NS) error {
	dir, err := os.MkdirTemp("", "ipvsd-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	backends := map[string]*demoBackend{}
	for _, a := range []string{"10.99.3.1:8080", "10.99.3.2:8080", "10.99.3.3:8080"} {
		if out, err := director.Sh("ip addr add " + strings.Split(a, ":")[0] + "/32 dev lo"); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		b := &demoBackend{addr: a}
		if err := b.start(director); err != nil {
			return err
		}
		defer b.stop()
		backends[a] = b
	}
	cfg := filepath.Join(dir, "ipvsd.yaml")
	if err := os.WriteFile(cfg, []byte(directorConfig), 0o600); err != nil {
		return err
	}
	sock := filepath.Join(dir, "ipvsd.sock")
	cmd := exec.Command(path, "run", "--config.file="+cfg, "--state.dir="+filepath.Join(dir, "state"), "--web.listen-address=unix:"+sock)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := director.Do(cmd.Start); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	api := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	fmt.Printf("\nipvsd directs %s over three real servers, checked over HTTP every 500ms:\n%s", directorVIP, indent(directorConfig))

	show := func(when, wantTable string) error {
		if err := waitTable(director, wantTable); err != nil {
			return fmt.Errorf("%w\nipvsd's log:\n%s", err, logs.String())
		}
		out, _ := director.Sh("ipvsadm -Ln -t " + directorVIP)
		fmt.Printf("\n%s, ipvsadm -Ln -t %s:\n%s", when, directorVIP, out)
		if err := printState(api); err != nil {
			return err
		}
		return printServed(client)
	}
	if err := show("once the checks passed", "10.99.3.1:8080 1|10.99.3.2:8080 1|10.99.3.3:8080 1"); err != nil {
		return err
	}
	backends["10.99.3.2:8080"].stop()
	fmt.Println("\n... 10.99.3.2:8080 stops.")
	if err := show("its check fails: its weight goes to 0, drained", "10.99.3.1:8080 1|10.99.3.3:8080 1"); err != nil {
		return err
	}
	if err := backends["10.99.3.2:8080"].start(director); err != nil {
		return err
	}
	fmt.Println("\n... 10.99.3.2:8080 starts again.")
	return show("its check passes again", "10.99.3.1:8080 1|10.99.3.2:8080 1|10.99.3.3:8080 1")
}

// demoBackend is an HTTP server on the director's loopback that answers
// its address.
type demoBackend struct {
	addr string
	srv  *http.Server
}

func (b *demoBackend) start(ns *netns.NS) error {
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp", b.addr); return err }); err != nil {
		return err
	}
	b.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", b.addr)
	})}
	go b.srv.Serve(l)
	return nil
}

func (b *demoBackend) stop() {
	if b.srv != nil {
		b.srv.Close()
	}
}

// waitTable waits until the live destinations of the demo's service, as
// "ADDRESS WEIGHT" joined by "|", are want.
func waitTable(ns *netns.NS, want string) error {
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := ns.Sh("ipvsadm -Ln -t " + directorVIP)
		if err != nil {
			continue
		}
		var live []string
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port" && f[3] != "0" {
				live = append(live, f[1]+" "+f[3])
			}
		}
		if got = strings.Join(live, "|"); got == want {
			return nil
		}
	}
	return fmt.Errorf("the table's live destinations are %q, want %q", got, want)
}

// printState prints what ipvsd's API says of the real servers.
func printState(api *http.Client) error {
	resp, err := api.Get("http://ipvsd/api/v1/status")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var s struct {
		VirtualServers []struct {
			Name string
			Real []struct {
				Address string
				Health  string
				Desired *uint32 `json:"desired_weight"`
				Reason  string
			} `json:"real_servers"`
		} `json:"virtual_servers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return err
	}
	fmt.Println("and ipvsd's API (GET /api/v1/status):")
	for _, vs := range s.VirtualServers {
		for _, rs := range vs.Real {
			w := "none, out of the desired table"
			if rs.Desired != nil {
				w = fmt.Sprint(*rs.Desired)
			}
			fmt.Printf("  %s %s: health %s, desired weight %s (%s)\n", vs.Name, rs.Address, rs.Health, w, rs.Reason)
		}
	}
	return nil
}

// printServed makes six connections through the demo's service from the
// client namespace and says who answered them.
func printServed(client *netns.NS) error {
	answers := map[string]int{}
	err := client.Do(func() error {
		for range 6 {
			conn, err := net.DialTimeout("tcp", directorVIP, 5*time.Second)
			if err != nil {
				return err
			}
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(conn, "GET / HTTP/1.0\r\n\r\n")
			b, err := io.ReadAll(conn)
			conn.Close()
			if err != nil {
				return err
			}
			body := string(b)
			answers[strings.TrimSpace(body[strings.LastIndex(body, "\r\n\r\n")+4:])]++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	fmt.Print("six connections from the client:")
	for _, a := range []string{"10.99.3.1:8080", "10.99.3.2:8080", "10.99.3.3:8080"} {
		fmt.Printf(" %s answered %d;", a, answers["hello from "+a])
	}
	fmt.Println()
	return nil
}

// indent indents each line of s by two spaces.
func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}
