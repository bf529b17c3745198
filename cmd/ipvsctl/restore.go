package main

import (
	"fmt"
	"runtime/debug"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/cmd/ipvsctl/internal/cli"
	"github.com/ipvs-go/ipvs/reconcile"
)

// restore runs -R: it reads the whole input into the table it describes,
// then converges the kernel to it, so that what stays the same is never
// touched and no connection of it drops. Services the input does not name
// stay as they are, unless --flush (or a -C line) asks for the input's
// table alone, as ipvsadm-restore's flush does.
func (e *env) restore(cmd *cli.Command) int {
	// A restore's peak holds two tables, the kernel's and the input's,
	// whole: the collector runs as often as while a table is sent from
	// the start, so that the heap grows half as far above them.
	defer debug.SetGCPercent(debug.SetGCPercent(sendGCPercent))
	current, err := e.readKernel()
	if err != nil {
		return e.readFailed(err)
	}
	daemons, err := e.client.Daemons(e.ctx)
	if err != nil {
		return e.readFailed(err)
	}
	t := newDesired(current, daemons, cmd.Flush)
	if code := e.readRestore(func(n int, line *cli.Command, rec *dest) error {
		if line.NetNS != "" && line.NetNS != cmd.NetNS {
			return fmt.Errorf("--netns in a restore line")
		}
		return t.apply(n, line, rec)
	}); code != 0 {
		return code
	}
	if code := e.checkTable(t, current, ""); code != 0 {
		return code
	}
	opts := reconcile.Options{Owns: t.owns, Drain: func(ipvs.Service) reconcile.DrainPolicy { return reconcile.DrainPolicyRemoveAtOnce },
		FlushConntrack: cmd.FlushConntrack}
	return e.converge(t, current, daemons, opts, cmd.DryRun)
}
