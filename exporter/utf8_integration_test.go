//go:build integration && linux

package exporter_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

// TestKernelDaemonInterfaceNotUTF8 runs a sync daemon on an interface
// whose name is not UTF-8, as Linux allows (Latin-1 "ÿ" here), and
// scrapes it through a registry, through WriteText and from the
// ipvs_exporter binary: each serves every scrape, with the byte escaped.
func TestKernelDaemonInterfaceNotUTF8(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	director := newNS(t)
	// printf's octal escape makes the byte 0xff whatever the shell.
	sh(t, director, `ip link add sync0 type dummy && ip link set sync0 name "$(printf 'sync\377')" && `+
		`ip link set "$(printf 'sync\377')" up && ip addr add 10.88.0.1/24 dev "$(printf 'sync\377')"`)
	c, err := ipvs.New(&ipvs.Config{NetNS: director.Fd()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartDaemon(ctx, ipvs.Daemon{State: ipvs.DaemonMaster, Interface: "sync\xff", SyncID: 3}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.StopDaemon(context.Background(), ipvs.DaemonMaster) }()
	daemons, err := c.Daemons(ctx)
	if err != nil || len(daemons) != 1 || daemons[0].Interface != "sync\xff" {
		t.Fatalf("Daemons: %+v, %v; want the one on sync\\xff", daemons, err)
	}

	url := serve(t, c, collector.WithNetNS("director"))
	paths := map[string]string{"registry": url + "/metrics", "WriteText": url + "/text"}
	if binary := startExporter(t, director); binary != "" {
		paths["ipvs_exporter"] = binary + "/metrics"
	}
	want := `interface="sync\\xff"`
	for name, u := range paths {
		for range 2 { // the binary used to exit at the first
			body := get(t, u)
			if !strings.Contains(body, want) {
				t.Errorf("%s: no %s in\n%s", name, want, body)
			}
			scrape(t, u) // parses it
		}
	}
}

// get returns the body of a GET of url, which must succeed.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v\n%s", url, resp.Status, err, b)
	}
	return string(b)
}
