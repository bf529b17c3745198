package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/schema"
	"github.com/ipvs-go/ipvs/reconcile"
)

// apply runs "ipvsctl apply -f FILE": the table of a JSON or YAML file
// (the schema of the structured listings), converged with the reconcile
// package's drain and ownership options.
func (e *env) apply(argv []string) int {
	c, err := cli.ParseApply(argv)
	if err != nil {
		return e.refused(err)
	}
	if c.Help {
		applyUsage(e.out, filepath.Base(e.program))
		return 0
	}
	data, err := e.readInput(c.File)
	if err != nil {
		if code := e.interrupted(); code != 0 {
			return code
		}
		fmt.Fprintln(e.errw, err)
		return 1
	}
	table, err := schema.Decode(data)
	if err != nil {
		fmt.Fprintf(e.errw, "%s: %v\n", c.File, err)
		return 2
	}
	desired, err := table.Desired()
	if err != nil {
		fmt.Fprintf(e.errw, "%s: %v\n", c.File, err)
		return 2
	}
	var daemons []ipvs.Daemon
	if table.Daemons != nil {
		if daemons, err = table.DesiredDaemons(); err != nil {
			fmt.Fprintf(e.errw, "%s: %v\n", c.File, err)
			return 2
		}
	}
	t := newDesired(nil, nil, !c.OwnListed)
	if err := t.addServices(table, desired); err != nil {
		fmt.Fprintf(e.errw, "%s: %v\n", c.File, err)
		return 2
	}
	if code := e.open(c.NetNS); code != 0 {
		return code
	}
	defer e.client.Close()
	current, err := e.readKernel()
	if err != nil {
		return e.readFailed(err)
	}
	running, err := e.client.Daemons(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	if table.Timeouts != nil {
		s := time.Second
		t.timeouts = &ipvs.Timeouts{TCP: time.Duration(table.Timeouts.TCP) * s, TCPFin: time.Duration(table.Timeouts.TCPFin) * s, UDP: time.Duration(table.Timeouts.UDP) * s}
	}
	// No daemons in the file: leave the running ones.
	if table.Daemons == nil {
		daemons = running
	}
	for i := range daemons {
		t.daemons[daemons[i].State] = &daemons[i]
	}
	if code := e.checkTable(t, current, c.File+": "); code != 0 {
		return code
	}
	opts := reconcile.Options{Owns: t.owns, Drain: func(ipvs.Service) reconcile.DrainPolicy { return c.Drain }, DrainTimeout: c.DrainTimeout,
		FlushConntrack: c.FlushConntrack}
	guard, err := t.removalGuard(current, opts, len(desired) == 0)
	if err != nil {
		fmt.Fprintln(e.errw, err)
		return 2
	}
	if c.DryRun {
		code := e.converge(t, current, running, opts, true)
		if guard != "" {
			fmt.Fprintf(e.out, "# apply refuses this plan without --allow-removal: %s\n", guard)
		}
		return code
	}
	if guard != "" && !c.AllowRemoval {
		fmt.Fprintf(e.errw, "%s: refused: %s; --allow-removal applies it (--dry-run shows it)\n", c.File, guard)
		return 2
	}
	if code := e.converge(t, current, running, opts, false); code != 0 || !c.Wait {
		return code
	}
	return e.waitDrains(desired, opts)
}

// readInput reads the file name, or standard input for "-", until a
// signal.
func (e *env) readInput(name string) ([]byte, error) {
	if name != "-" {
		return os.ReadFile(name)
	}
	type read struct {
		b   []byte
		err error
	}
	ch := make(chan read, 1)
	go func() {
		b, err := io.ReadAll(e.stdin)
		ch <- read{b, err}
	}()
	select {
	case r := <-ch:
		return r.b, r.err
	case <-e.ctx.Done():
		return nil, context.Cause(e.ctx)
	}
}

// addServices puts the file's services into t; a service or destination
// given twice is an error naming both lines.
func (t *desiredTable) addServices(table *schema.Table, desired []ipvs.VirtualServer) error {
	for i := range desired {
		v := &desired[i]
		s := &table.Services[i]
		k := v.Service.Key()
		if j, twice := t.index[k]; twice {
			return fmt.Errorf("line %d: services[%d]: %s is given twice (first at line %d)", s.Line, i, v.Service, t.entries[j].line)
		}
		e := t.add(k, v.Service, s.Line)
		e.dests = make([]dest, 0, len(v.Destinations))
		for j := range v.Destinations {
			d := &v.Destinations[j]
			dk := d.Key(k)
			for o := range e.dests {
				if e.dests[o].is(dk) {
					return fmt.Errorf("line %d: services[%d].destinations[%d]: %s is given twice (first at line %d)",
						s.Destinations[j].Line, i, j, dk, e.dests[o].line)
				}
			}
			e.dests = append(e.dests, destOf(d, k, s.Destinations[j].Line))
		}
	}
	return nil
}

// removalGuard says why the plan from current to t needs --allow-removal,
// or "" if it does not: t names no service while it owns the whole
// table, or the plan takes away (removes, or drains) more than half of
// the services and destinations of the table that it owns.
func (t *desiredTable) removalGuard(current *kernelTable, opts reconcile.Options, none bool) (string, error) {
	if none && t.ownAll {
		return fmt.Sprintf("the file names no services, which with --own all means an empty table (this one has %d services)", len(current.services)), nil
	}
	owned := 0
	dests := make(map[ipvs.ServiceKey]int, len(current.services))
	for i, s := range current.services {
		if t.owns(s) {
			owned += 1 + len(current.dests[i])
			dests[s.Key()] = len(current.dests[i])
		}
	}
	removed := 0
	err := t.plans(current, opts, func(p *reconcile.Plan) error {
		for _, c := range p.Changes() {
			switch c.Kind {
			case reconcile.KindRemoveService:
				removed += 1 + dests[c.Service.Key()]
			case reconcile.KindRemoveDestination, reconcile.KindDrainDestination:
				removed++
			}
		}
		return nil
	})
	if err != nil || 2*removed <= owned {
		return "", err
	}
	return fmt.Sprintf("the plan takes away %d of the %d services and destinations of the table it owns, more than half", removed, owned), nil
}
