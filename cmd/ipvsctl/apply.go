package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/schema"
	"github.com/ipvs-go/ipvs/reconcile"
)

// apply runs "ipvsctl apply -f FILE": the table of a JSON or YAML file
// (the schema of the structured listings), converged with the reconcile
// package's drain and ownership options.
func (e *env) apply(args []string) int {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(e.errw)
	file := fs.String("f", "", "the desired table, JSON or YAML (- for stdin)")
	netns := fs.String("netns", "", "network namespace: a name under /var/run/netns, or a path")
	dryRun := fs.Bool("dry-run", false, "print the plan, change nothing")
	own := fs.String("own", "all", "services to converge: all (those not in the file are removed) or listed (only those in the file)")
	drain := fs.String("drain", "protocol", "destinations no longer desired: protocol (drain TCP, remove UDP/SCTP at once), drain, or remove")
	drainTimeout := fs.Duration("drain-timeout", 0, "remove a draining destination after this long even with connections left (needs repeated applies)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(e.errw, "usage: ipvsctl apply -f FILE [--dry-run] [--netns NS] [--own all|listed] [--drain protocol|drain|remove]")
		return 2
	}
	policy, ok := map[string]reconcile.DrainPolicy{"protocol": reconcile.DrainPolicyByProtocol, "drain": reconcile.DrainPolicyGracefully, "remove": reconcile.DrainPolicyRemoveAtOnce}[*drain]
	if !ok {
		fmt.Fprintf(e.errw, "invalid --drain %q: protocol, drain or remove\n", *drain)
		return 2
	}
	if *own != "all" && *own != "listed" {
		fmt.Fprintf(e.errw, "invalid --own %q: all or listed\n", *own)
		return 2
	}
	var data []byte
	var err error
	if *file == "-" {
		data, err = io.ReadAll(e.stdin)
	} else {
		data, err = os.ReadFile(*file)
	}
	if err != nil {
		fmt.Fprintln(e.errw, err)
		return 1
	}
	table, err := schema.Decode(data)
	if err != nil {
		fmt.Fprintf(e.errw, "%s: %v\n", *file, err)
		return 2
	}
	desired, err := table.Desired()
	if err != nil {
		fmt.Fprintf(e.errw, "%s: %v\n", *file, err)
		return 2
	}
	if code := e.open(*netns); code != 0 {
		return code
	}
	defer e.client.Close()
	current, err := e.client.VirtualServers(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	running, err := e.client.Daemons(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	t := newDesired(nil, nil, *own == "all")
	for i := range desired {
		k := serviceKey(desired[i].Service)
		t.order, t.services[k], t.owned[k] = append(t.order, k), &desired[i], true
	}
	if table.Timeouts != nil {
		s := time.Second
		t.timeouts = &ipvs.Timeouts{TCP: time.Duration(table.Timeouts.TCP) * s, TCPFin: time.Duration(table.Timeouts.TCPFin) * s, UDP: time.Duration(table.Timeouts.UDP) * s}
	}
	if table.Daemons != nil {
		ds, err := table.DesiredDaemons()
		if err != nil {
			fmt.Fprintf(e.errw, "%s: %v\n", *file, err)
			return 2
		}
		for i := range ds {
			t.daemons[ds[i].State] = &ds[i]
		}
	} else {
		// No daemons in the file: leave the running ones.
		for i := range running {
			t.daemons[running[i].State] = &running[i]
		}
	}
	opts := reconcile.Options{Owns: t.owns, Drain: func(ipvs.Service) reconcile.DrainPolicy { return policy }, DrainTimeout: *drainTimeout}
	plan, err := reconcile.Compute(current, t.desired(), opts)
	if err != nil {
		fmt.Fprintln(e.errw, err)
		return 2
	}
	return e.converge(plan, t, running, *dryRun)
}
