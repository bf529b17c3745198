// Command ipvsd is a health-checking director for Linux's IP Virtual
// Server: it owns the virtual servers of its configuration, checks their
// real servers, and keeps the kernel's table as the configuration and the
// checks say, draining what fails, repairing what others change, and
// serving its state, an API and metrics. See README.md.
//
//	ipvsd run   [--config.file=/etc/ipvsd/ipvsd.yaml] ...   the daemon (the default command)
//	ipvsd check FILE                                        validate a configuration
//	ipvsd plan  FILE                                        what loading FILE would change, changing nothing
//	ipvsd import-keepalived FILE                            keepalived.conf's virtual servers as an ipvsd configuration
//	ipvsd fleet apply|diff|status                           a fleet's configuration in etcd, and its directors
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ipvs-go/ipvs/internal/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitCode carries the status of --help and --version out of kingpin,
// which would otherwise exit the process itself.
type exitCode int

// run executes one command line and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	app := kingpin.New("ipvsd", "A health-checking director for Linux's IP Virtual Server.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.Terminate(func(c int) { panic(exitCode(c)) })
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exitCode)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	app.Version(buildinfo.Read().Line("ipvsd"))
	app.HelpFlag.Short('h')

	daemon := newDaemonCommand(app)
	checkCmd := app.Command("check", "Validate a configuration file: every error with its line and field; exit 1 if any.")
	checkFile := checkCmd.Arg("file", "The configuration file.").Required().String()
	plan := newPlanCommand(app)
	importKeepalived := newImportCommand(app)
	fleetCmds := newFleetCommands(app)

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "ipvsd: %v\n", err)
		return 2
	}
	switch cmd {
	case daemon.cmd.FullCommand():
		return daemon.run(ctx, stderr)
	case checkCmd.FullCommand():
		return checkConfig(*checkFile, stdout, stderr)
	case plan.cmd.FullCommand():
		return plan.run(ctx, stdout, stderr)
	case importKeepalived.cmd.FullCommand():
		return importKeepalived.run(stdout, stderr)
	case fleetCmds.apply.FullCommand(), fleetCmds.diff.FullCommand(), fleetCmds.status.FullCommand():
		return fleetCmds.run(ctx, cmd, stdout, stderr)
	}
	return 2
}
