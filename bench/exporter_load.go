//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The exporter-load suite measures the ipvs_exporter binary (VM_FILES
// copies it beside the bench) under many scrapes of one large table at
// once, as several Prometheus servers, a dashboard and a curl or two make
// them: the exporter's peak RSS (VmHWM) after one scrape, and after
// exporterLoadScrapes at once, each from a fresh process. BENCH_EXPORTERS
// names other builds to compare, such as one from before a change:
// file names beside the bench, separated by spaces.
func init() { registerSuite("exporter-load", exporterLoadSuite) }

// exporterLoadScrapes is how many scrapes start at once.
const exporterLoadScrapes = 50

func exporterLoadSuite(services, dests, rep int) error {
	binaries := strings.Fields(os.Getenv("BENCH_EXPORTERS"))
	if len(binaries) == 0 {
		binaries = []string{"ipvs_exporter"}
	}
	for _, b := range binaries {
		if _, err := os.Stat(b); err != nil {
			return fmt.Errorf("exporter-load suite: %s must be passed with VM_FILES: %w", b, err)
		}
	}
	if err := createTable(services, dests); err != nil {
		return err
	}
	for _, b := range binaries {
		for _, n := range []int{1, exporterLoadScrapes} {
			if err := exporterLoad(b, n, services, dests, rep); err != nil {
				return fmt.Errorf("%s, %d scrapes: %w", b, n, err)
			}
		}
	}
	return nil
}

// exporterLoad starts the exporter binary, sends it n scrapes at once, as
// Prometheus sends them (gzip), and emits the time they took together
// and the exporter's peak RSS; the objects are the series of the
// scrapes that succeeded.
func exporterLoad(binary string, n, services, dests, rep int) error {
	path, err := filepath.Abs(binary)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	// Long enough for every scrape under emulation: what is measured is
	// memory, not whether a scrape beyond a limit is refused.
	cmd := exec.Command(path, "--web.listen-address="+addr, "--scrape.timeout=20m", "--log.level=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := "http://" + addr
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get(url + "/") // the landing page: no scrape yet
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the exporter does not answer: %w", err)
		}
	}
	var wg sync.WaitGroup
	series := make([]int, n)
	codes := make([]int, n)
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			resp, err := http.Get(url + "/metrics")
			if err != nil {
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			var w seriesCounter
			if _, err := io.Copy(&w, resp.Body); err == nil && resp.StatusCode == http.StatusOK {
				series[i] = w.n
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	hwm, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		return err
	}
	total, ok := 0, 0
	for i := range n {
		total += series[i]
		if codes[i] == http.StatusOK {
			ok++
		}
	}
	fmt.Printf("exporter-load: %s, %d scrapes at once of %d × %d: %d answered 200 in %.1f s, peak RSS %d MiB\n",
		binary, n, services, dests, ok, secs, hwm/1024)
	emit(result{Group: "exporter-load", Contender: binary, Workload: fmt.Sprintf("%d scrapes at once", n), Services: services,
		Dests: dests, Rep: rep, Objects: total, Seconds: secs, Allocs: -1, RSSKiB: hwm})
	return nil
}
