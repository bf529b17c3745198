//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The ipvsctl suite measures cmd/ipvsctl against stock ipvsadm on a save
// of services × destinations: -R into an empty table (ipvsctl sends one
// batch; ipvsadm one request per line), -R of the same save onto the
// loaded table (ipvsctl's diff finds nothing to do; ipvsadm refuses every
// line), and -Sn of the loaded table. Both run as processes, so each
// measure includes the process's start; the ipvsctl binary comes from the
// working directory (VM_FILES=build/ipvsctl).
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

// ipvsctlRun runs one command with stdin, its output discarded, and
// returns its wall time and peak RSS; a failure's output is in the error.
func ipvsctlRun(stdin []byte, name string, args ...string) (time.Duration, int64, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, 0, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, errb.String())
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return d, rss, nil
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
	flush := func() error { _, _, err := ipvsctlRun(nil, "ipvsadm", "-C"); return err }
	for _, c := range []struct{ name, path string }{{"ipvsadm", "ipvsadm"}, {"ipvsctl", bin}} {
		if err := flush(); err != nil {
			return err
		}
		d, rss, err := ipvsctlRun(save, c.path, "-R")
		if err != nil {
			return err
		}
		report(c.name, "restore", d, rss)
	}
	// The table is loaded: ipvsctl's restore is then a diff with nothing
	// to do, and both save it.
	d, rss, err := ipvsctlRun(save, bin, "-R")
	if err != nil {
		return err
	}
	report("ipvsctl", "restore-unchanged", d, rss)
	for _, c := range []struct{ name, path string }{{"ipvsadm", "ipvsadm"}, {"ipvsctl", bin}} {
		d, rss, err := ipvsctlRun(nil, c.path, "-Sn")
		if err != nil {
			return err
		}
		report(c.name, "save", d, rss)
	}
	return flush()
}
