package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// check checks every service and destination the input set, before the
// first write: as the library would before sending each (Validate), and
// each scheduler and persistence engine against the modules this kernel
// has, where that can be known (see kernelModules). A refusal names the
// input line; what only the kernel can refuse beyond this is reported
// per change, after the writes.
func (t *desiredTable) check(current *kernelTable, modules map[string]bool) error {
	if modules != nil && current != nil {
		// A module a service of the table uses is loaded.
		for _, s := range current.services {
			modules["ip_vs_"+s.Scheduler] = true
			if s.PersistenceEngine != "" {
				modules["ip_vs_pe_"+s.PersistenceEngine] = true
			}
		}
	}
	for i := range t.entries {
		e := &t.entries[i]
		if !t.desired(e) {
			continue
		}
		k := e.svc.Key()
		if e.line > 0 {
			if err := e.svc.Validate(); err != nil {
				return &lineError{e.line, err}
			}
			if err := moduleFor(modules, "scheduler", "ip_vs_", e.svc.Scheduler); err != nil {
				return &lineError{e.line, err}
			}
			if err := moduleFor(modules, "persistence engine", "ip_vs_pe_", e.svc.PersistenceEngine); err != nil {
				return &lineError{e.line, err}
			}
		}
		for j := range e.dests {
			d := &e.dests[j]
			if d.line == 0 {
				continue
			}
			if err := d.destination().Validate(k); err != nil {
				return &lineError{int(d.line), err}
			}
		}
	}
	return nil
}

// moduleFor refuses a scheduler or engine name whose module the kernel
// does not have; modules nil means that cannot be known.
func moduleFor(modules map[string]bool, what, prefix, name string) error {
	if modules == nil || name == "" || name == "none" || modules[prefix+name] {
		return nil
	}
	return fmt.Errorf("%s %q: this kernel has no module %s%s", what, name, prefix, name)
}

// kernelModules returns the modules this kernel can load or has built in,
// by name (ip_vs_rr), from modules.dep and modules.builtin of its
// release and /sys/module; nil if its module directory cannot be read
// (a container without the host's /lib/modules), when no name can be
// refused.
func kernelModules() map[string]bool {
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return nil
	}
	dir := filepath.Join("/lib/modules", strings.TrimSpace(string(release)))
	modules := map[string]bool{}
	read := false
	for _, name := range []string{"modules.dep", "modules.builtin"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		read = true
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			path, _, _ := strings.Cut(sc.Text(), ":")
			base := filepath.Base(path)
			base, _, _ = strings.Cut(base, ".ko")
			modules[strings.ReplaceAll(base, "-", "_")] = true
		}
		f.Close()
	}
	if !read {
		return nil
	}
	ents, _ := os.ReadDir("/sys/module")
	for _, e := range ents {
		modules[e.Name()] = true
	}
	return modules
}
