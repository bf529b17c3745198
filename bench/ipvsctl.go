//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ipvs-go/ipvs/internal/netns"
)

// The ipvsctl suite measures cmd/ipvsctl against stock ipvsadm on a save
// of services × destinations: -R into an empty table (ipvsctl sends the
// plan in batches; ipvsadm one request per line), ipvsctl's -R of the same save onto
// the loaded table (its diff finds nothing to do), and -Sn of the loaded
// table. Both run as processes, so each measure includes the process's
// start; the ipvsctl binary comes from the working directory
// (VM_FILES=build/ipvsctl). Each contender has a namespace of its own, and
// both are kept until the end: a flushed table's destinations stay on the
// kernel's per-namespace trash list, which every creation walks, and a
// namespace's teardown runs in the background.
func init() { registerSuite("ipvsctl", ipvsctlSuite) }

// ipvsctlSave writes the table as ipvsadm -Sn prints it.
func ipvsctlSave(services, dests int) []byte {
	var b bytes.Buffer
	for i := range services {
		svc := fmt.Sprintf("-t 10.%d.%d.%d:80", 1+i>>16, i>>8&255, i&255)
		fmt.Fprintf(&b, "-A %s -s rr\n", svc)
		for j := range dests {
			fmt.Fprintf(&b, "-a %s -r 172.16.%d.%d:8080 -m -w 1\n", svc, j>>8&255, 1+j&255)
		}
	}
	return b.Bytes()
}

// ipvsctlRun runs one command in the namespace ns with stdin, its output
// discarded, and returns its wall time and its own peak RSS (runInput);
// a failure's output is in the error.
func ipvsctlRun(ns *netns.NS, stdin []byte, name string, args ...string) (d time.Duration, rss int64, err error) {
	// The child starts from a thread in ns, so it runs there; that locked
	// thread is also the one that traces it.
	err = ns.Do(func() error {
		d, rss, err = runInput(stdin, name, args...)
		return err
	})
	return d, rss, err
}

func ipvsctlSuite(services, dests, rep int) error {
	bin, err := filepath.Abs("ipvsctl")
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("ipvsctl suite: build/ipvsctl must be passed with VM_FILES: %w", err)
	}
	save := ipvsctlSave(services, dests)
	objects := services * (1 + dests)
	report := func(contender, workload string, d time.Duration, rss int64) {
		emit(result{Group: "ipvsctl", Contender: contender, Workload: workload, Services: services, Dests: dests,
			Rep: rep, Objects: objects, Seconds: d.Seconds(), Allocs: -1, RSSKiB: rss})
	}
	for _, c := range []struct{ name, path string }{{"ipvsadm", "ipvsadm"}, {"ipvsctl", bin}} {
		ns, err := netns.New()
		if err != nil {
			return err
		}
		defer ns.Close()
		d, rss, err := ipvsctlRun(ns, save, c.path, "-R")
		if err != nil {
			return err
		}
		report(c.name, "restore", d, rss)
		if c.name == "ipvsctl" {
			// The table is loaded: the restore is a diff with nothing to do.
			if d, rss, err = ipvsctlRun(ns, save, bin, "-R"); err != nil {
				return err
			}
			report(c.name, "restore-unchanged", d, rss)
		}
		if d, rss, err = ipvsctlRun(ns, nil, c.path, "-Sn"); err != nil {
			return err
		}
		report(c.name, "save", d, rss)
	}
	return nil
}
