//go:build integration && linux

package exporter_test

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

// TestKernelNoIPVS scrapes a kernel booted without the ip_vs modules:
// every scrape succeeds with ipvs_up 0, counts the failure, and the log
// says so once.
func TestKernelNoIPVS(t *testing.T) {
	if os.Getenv("VM_NO_IPVS") != "1" {
		t.Skip("needs a boot without the ip_vs modules (VM_NO_IPVS=1)")
	}
	var log bytes.Buffer
	d := collector.NewDialer(nil)
	defer d.Close()
	url := serve(t, d, collector.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	for range 2 {
		scrape(t, url+"/metrics")
	}
	s := scrape(t, url+"/text")
	if s.up != 0 {
		t.Errorf("ipvs_up %v, want 0", s.up)
	}
	if s.errors != 3 {
		t.Errorf("%v failed reads of the table counted, want 3", s.errors)
	}
	if n := strings.Count(log.String(), "IPVS read failed"); n != 1 || !strings.Contains(log.String(), "ip_vs module") {
		t.Errorf("%d failures logged over 3 scrapes, want 1 that names the module:\n%s", n, log.String())
	}
}
