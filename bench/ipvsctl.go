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
// (VM_FILES=build/ipvsctl). Each contender has a namespace of its own in
// each of two passes (see ipvsctlSuite), and all are kept until the end:
// a flushed table's destinations stay on the kernel's per-namespace trash
// list, which every creation walks, and a namespace's teardown runs in
// the background.
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
// discarded, and returns its wall time and, traced, its own peak RSS
// (runInput); a failure's output is in the error.
func ipvsctlRun(ns *netns.NS, traced bool, stdin []byte, name string, args ...string) (d time.Duration, rss int64, err error) {
	// The child starts from a thread in ns, so it runs there; that locked
	// thread is also the one that traces it.
	err = ns.Do(func() error {
		d, rss, err = runInput(stdin, traced, name, args...)
		return err
	})
	return d, rss, err
}

// ipvsctlSuite makes two passes over the contenders, each contender in a
// namespace of its own: the times come from the first, untraced, and the
// peaks from the second, traced. Tracing stops a child at every signal it
// receives, and Go's runtime preempts goroutines with signals, so tracing
// would slow ipvsctl and not ipvsadm. The traced pass runs beside the
// first pass's tables, which a process's memory does not depend on.
func ipvsctlSuite(services, dests, rep int) error {
	bin, err := filepath.Abs("ipvsctl")
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("ipvsctl suite: build/ipvsctl must be passed with VM_FILES: %w", err)
	}
	save := ipvsctlSave(services, dests)
	type key struct{ contender, workload string }
	var order []key
	secs, rss := map[key]time.Duration{}, map[key]int64{}
	for _, traced := range []bool{false, true} {
		for _, c := range []struct{ name, path string }{{"ipvsadm", "ipvsadm"}, {"ipvsctl", bin}} {
			ns, err := netns.New()
			if err != nil {
				return err
			}
			defer ns.Close()
			run := func(workload string, stdin []byte, args ...string) error {
				d, kib, err := ipvsctlRun(ns, traced, stdin, c.path, args...)
				k := key{c.name, workload}
				if traced {
					rss[k] = kib
				} else {
					secs[k] = d
					order = append(order, k)
				}
				return err
			}
			if err := run("restore", save, "-R"); err != nil {
				return err
			}
			if c.name == "ipvsctl" {
				// The table is loaded: the restore is a diff with nothing to do.
				if err := run("restore-unchanged", save, "-R"); err != nil {
					return err
				}
			}
			if err := run("save", nil, "-Sn"); err != nil {
				return err
			}
		}
	}
	for _, k := range order {
		emit(result{Group: "ipvsctl", Contender: k.contender, Workload: k.workload, Services: services, Dests: dests,
			Rep: rep, Objects: services * (1 + dests), Seconds: secs[k].Seconds(), Allocs: -1, RSSKiB: rss[k]})
	}
	return nil
}
