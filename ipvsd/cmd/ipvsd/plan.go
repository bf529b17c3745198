package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/daemon"
	"github.com/ipvs-go/ipvs/ipvsd/director"
)

// planCommand is "ipvsd plan FILE": what loading FILE would write to the
// table now, with the director's reason for each write, changing
// nothing.
type planCommand struct {
	cmd      *kingpin.CmdClause
	file     *string
	api      *string
	netns    *string
	stateDir *string
	json     *bool
}

func newPlanCommand(app *kingpin.Application) *planCommand {
	p := &planCommand{cmd: app.Command("plan", "Print what loading a configuration file would write to the table, "+
		"each write with its reason, and change nothing. Real servers whose checks have not run keep their weight as "+
		"the table has it, as at start-up.")}
	p.file = p.cmd.Arg("file", "The configuration file.").Required().String()
	p.api = p.cmd.Flag("api", "The API of a running ipvsd (unix:PATH or http(s)://HOST:PORT), asked first: its plan counts the "+
		"health its checks know. Without an answer there, the plan is made here, from the table, as at start-up.").Default(defaultListen).String()
	p.netns = netnsFlag(p.cmd)
	p.stateDir = p.cmd.Flag("state.dir", "The daemon's state directory, read for the changes made through its API and the services it owns.").
		Default(defaultStateDir).String()
	p.json = p.cmd.Flag("json", "Print the plan as JSON.").Bool()
	return p
}

func (p *planCommand) run(ctx context.Context, stdout, stderr io.Writer) int {
	data, cfg, err := daemon.ReadConfig(*p.file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	report, err := planFromDaemon(ctx, *p.api, *p.file, data)
	switch {
	case err == nil:
		fmt.Fprintf(stderr, "# planned by the ipvsd at %s, with the health its checks know\n", *p.api)
		return printPlan(report, *p.json, stdout)
	case !errors.Is(err, errNoDaemon):
		fmt.Fprintf(stderr, "ipvsd: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "# no ipvsd answers at %s: planned from the table, as at start-up\n", *p.api)
	client, err := ipvs.New(namespaceConfig(*p.netns))
	if err != nil {
		fmt.Fprintf(stderr, "ipvsd: %v\n", err)
		return 1
	}
	defer client.Close()
	store, err := director.ReadStore(*p.stateDir)
	if err != nil {
		fmt.Fprintf(stderr, "ipvsd: %v\n", err)
		return 1
	}
	d := director.New(director.Options{Client: client, Checks: idleChecks{}, Store: store})
	if err := d.Apply(cfg); err != nil {
		fmt.Fprintf(stderr, "ipvsd: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	report, err = d.Plan(ctx, nil)
	if err != nil {
		fmt.Fprintf(stderr, "ipvsd: %v\n", err)
		return 1
	}
	return printPlan(report, *p.json, stdout)
}

// printPlan prints a plan as text, or JSON.
func printPlan(report *director.PlanReport, asJSON bool, stdout io.Writer) int {
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report); err != nil {
			return 1
		}
		return 0
	}
	if len(report.Changes) == 0 {
		fmt.Fprintln(stdout, "# no change")
	}
	fmt.Fprint(stdout, report.String())
	return 0
}

// idleChecks runs no check: every real server's health is unknown, as
// before the first checks of a start.
type idleChecks struct{}

func (idleChecks) Set(defs []check.Definition) error {
	for _, d := range defs {
		if err := check.Validate(d); err != nil {
			return err
		}
	}
	return nil
}
func (idleChecks) Statuses() []check.Status { return nil }
func (idleChecks) Changes() <-chan struct{} { return nil }
func (idleChecks) LastTick() time.Time      { return time.Time{} }
