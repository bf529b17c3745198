//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"
)

// A suite is a benchmark beyond the four workloads of the contenders
// (reconcile, the model, the CLI, the exporter): it runs in a fresh
// network namespace of its own, as a child process, and prints its
// results with emit. Each file that holds one registers it in init.
type suite func(services, dests, rep int) error

var suites = map[string]suite{}

func registerSuite(name string, s suite) { suites[name] = s }

// suiteNames returns the registered suites in a stable order.
func suiteNames() []string {
	names := make([]string, 0, len(suites))
	for n := range suites {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// emit prints one RESULT line: the group (the suite's name) tells the
// report which table it belongs to; kernel and RSS are filled in here.
func emit(r result) {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	r.Kernel = strings.TrimSpace(string(kernel))
	r.Date = time.Now().UTC().Format("2006-01-02 15:04")
	if r.RSSKiB == 0 {
		var self, kids syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
		_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
		r.RSSKiB = max(self.Maxrss, kids.Maxrss)
	}
	b, _ := json.Marshal(r)
	fmt.Printf("RESULT %s\n", b)
}

// runSuites runs each named suite (all if empty) once per repetition, each
// in a child process in a fresh network namespace.
func runSuites(only []string, services, dests, reps int) error {
	if len(only) == 0 || only[0] == "" {
		only = suiteNames()
	}
	for _, name := range only {
		if suites[name] == nil {
			return fmt.Errorf("unknown suite %q", name)
		}
		for rep := range reps {
			cmd := exec.Command("/proc/self/exe", "-mode", "suite-child", "-suite", name,
				"-services", fmt.Sprint(services), "-dests", fmt.Sprint(dests), "-rep", fmt.Sprint(rep))
			cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("suite %s, run %d: %w", name, rep, err)
			}
		}
	}
	return nil
}

// runSuiteChild runs one suite in this process's fresh namespace.
func runSuiteChild(name string, services, dests, rep int) error {
	if err := loUp(); err != nil {
		return err
	}
	s := suites[name]
	if s == nil {
		return fmt.Errorf("unknown suite %q", name)
	}
	return s(services, dests, rep)
}

// runContender runs one contender of a suite in a child process, named to
// it by the environment variable env; with newNet, in a network namespace
// of its own, else in this one's.
func runContender(suite, env, name string, services, dests, rep int, newNet bool) error {
	cmd := exec.Command("/proc/self/exe", "-mode", "suite-child", "-suite", suite,
		"-services", fmt.Sprint(services), "-dests", fmt.Sprint(dests), "-rep", fmt.Sprint(rep))
	if newNet {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	}
	cmd.Env = append(os.Environ(), env+"="+name)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
