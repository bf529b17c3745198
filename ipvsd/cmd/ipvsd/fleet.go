package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ipvs-go/ipvs/internal/buildinfo"
	"github.com/ipvs-go/ipvs/ipvsd/fleet"
)

// etcdFlags say how to reach a fleet's etcd, in etcdctl's words.
type etcdFlags struct {
	endpoints   *[]string
	prefix      *string
	cacert      *string
	cert        *string
	key         *string
	dialTimeout *time.Duration
}

func addEtcdFlags(cmd *kingpin.CmdClause, endpointsHelp string) *etcdFlags {
	return &etcdFlags{
		endpoints: cmd.Flag("etcd.endpoints", endpointsHelp).Envar("IPVSD_ETCD_ENDPOINTS").Strings(),
		prefix: cmd.Flag("etcd.prefix", "The fleet's key prefix: its virtual servers are under PREFIX/config/virtual-servers/, "+
			"its directors' states under PREFIX/directors/.").Default(fleet.DefaultPrefix).String(),
		cacert:      cmd.Flag("etcd.cacert", "The CA file that verifies etcd's certificate (etcdctl's --cacert).").String(),
		cert:        cmd.Flag("etcd.cert", "The client certificate file for etcd (etcdctl's --cert).").String(),
		key:         cmd.Flag("etcd.key", "The client certificate's key file (etcdctl's --key).").String(),
		dialTimeout: cmd.Flag("etcd.dial-timeout", "Bounds each attempt to connect to etcd.").Default("5s").Duration(),
	}
}

func (f *etcdFlags) enabled() bool { return len(*f.endpoints) > 0 }

func (f *etcdFlags) connection() fleet.Connection {
	return fleet.Connection{Endpoints: *f.endpoints, CAFile: *f.cacert, CertFile: *f.cert, KeyFile: *f.key, DialTimeout: *f.dialTimeout}
}

// client returns the etcd client and the fleet's layout.
func (f *etcdFlags) client() (*clientv3.Client, fleet.Layout, error) {
	l, err := fleet.NewLayout(*f.prefix)
	if err != nil {
		return nil, l, err
	}
	cli, err := f.connection().Client()
	return cli, l, err
}

// daemonFleetFlags are the run command's flags of the fleet.
type daemonFleetFlags struct {
	etcd         *etcdFlags
	leaseTTL     *time.Duration
	startTimeout *time.Duration
}

func newDaemonFleetFlags(cmd *kingpin.CmdClause) *daemonFleetFlags {
	return &daemonFleetFlags{
		etcd: addEtcdFlags(cmd, "Take the virtual servers from a fleet's etcd, at these endpoints (repeatable, or "+
			"comma-separated), rather than from the configuration file, whose director section still applies."),
		leaseTTL: cmd.Flag("etcd.lease-ttl", "How long the director's state stays in etcd after the director last spoke to it.").
			Default("15s").Duration(),
		startTimeout: cmd.Flag("etcd.start-timeout", "How long the director waits for etcd at start-up before it starts from "+
			"its local copy of the last good configuration (in --state.dir).").Default("10s").Duration(),
	}
}

// source returns the daemon's fleet source, or nil without
// --etcd.endpoints.
func (f *daemonFleetFlags) source(stateDir string, log *slog.Logger) (*fleet.Daemon, error) {
	if f == nil || !f.etcd.enabled() {
		return nil, nil
	}
	l, err := fleet.NewLayout(*f.etcd.prefix)
	if err != nil {
		return nil, err
	}
	return fleet.NewDaemon(f.etcd.connection(), fleet.Options{Layout: l, StateDir: stateDir, LeaseTTL: *f.leaseTTL,
		StartTimeout: *f.startTimeout, Version: buildinfo.Read().Line("ipvsd"), Logger: log.With("fleet", l.Prefix())})
}

// fleetCommands are "ipvsd fleet apply|diff|status".
type fleetCommands struct {
	cmd        *kingpin.CmdClause
	etcd       *etcdFlags
	timeout    *time.Duration
	apply      *kingpin.CmdClause
	applyFile  *string
	allowEmpty *bool
	maxOps     *int
	diff       *kingpin.CmdClause
	diffFile   *string
	status     *kingpin.CmdClause
	json       *bool
}

func newFleetCommands(app *kingpin.Application) *fleetCommands {
	f := &fleetCommands{cmd: app.Command("fleet", "Write and read a fleet's configuration in etcd, and its directors' states.")}
	f.etcd = addEtcdFlags(f.cmd, "etcd's endpoints (repeatable, or comma-separated).")
	f.timeout = f.cmd.Flag("timeout", "Bounds the whole command.").Default("1m").Duration()
	f.json = f.cmd.Flag("json", "Print JSON.").Bool()
	f.apply = f.cmd.Command("apply", "Validate a configuration file and write its virtual servers to etcd, one key each, "+
		"in one transaction made only if nothing changed since it was read: two operators never overwrite each other unawares.")
	f.applyFile = f.apply.Arg("file", "The configuration file (virtual servers only).").Required().String()
	f.allowEmpty = f.apply.Flag("allow-empty", "Write a configuration without virtual servers over one that has some: "+
		"every director then removes all of its own.").Bool()
	f.maxOps = f.apply.Flag("max-txn-ops", "etcd's --max-txn-ops: a larger change is written in several transactions, "+
		"each on the revision of the last, which the directors put in force whole.").Default("128").Int()
	f.diff = f.cmd.Command("diff", "Print what fleet apply FILE would change in etcd, and change nothing.")
	f.diffFile = f.diff.Arg("file", "The configuration file.").Required().String()
	f.status = f.cmd.Command("status", "Print the fleet: each director's revision, whether it is behind, its real servers' "+
		"health, its errors, and the real servers whose health the directors disagree on.")
	return f
}

func (f *fleetCommands) run(ctx context.Context, cmd string, stdout, stderr io.Writer) int {
	if !f.etcd.enabled() {
		fmt.Fprintln(stderr, "ipvsd fleet: --etcd.endpoints (or IPVSD_ETCD_ENDPOINTS) is required")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *f.timeout)
	defer cancel()
	cli, layout, err := f.etcd.client()
	if err != nil {
		fmt.Fprintf(stderr, "ipvsd fleet: %v\n", err)
		return 2
	}
	defer cli.Close()
	var code int
	switch cmd {
	case f.apply.FullCommand():
		code, err = f.runApply(ctx, cli, layout, *f.applyFile, true, stdout)
	case f.diff.FullCommand():
		code, err = f.runApply(ctx, cli, layout, *f.diffFile, false, stdout)
	case f.status.FullCommand():
		code, err = f.runStatus(ctx, cli, layout, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ipvsd fleet: %v\n", err)
	}
	return code
}

// runApply plans the file against etcd, prints the plan, and with write
// applies it.
func (f *fleetCommands) runApply(ctx context.Context, cli *clientv3.Client, layout fleet.Layout, path string, write bool, stdout io.Writer) (int, error) {
	data, _, err := fleet.ReadFile(path)
	if err != nil {
		return 1, err
	}
	desired, err := fleet.Split(path, data)
	if err != nil {
		return 1, err
	}
	w := &fleet.Writer{Client: cli, Layout: layout, MaxOps: *f.maxOps}
	plan, err := w.Plan(ctx, desired)
	if err != nil {
		return 1, err
	}
	if *f.json && !write {
		return 0, writeJSONTo(stdout, plan)
	}
	if !*f.json {
		if err := plan.WriteText(stdout); err != nil {
			return 1, err
		}
	}
	if !write || len(plan.Changes) == 0 {
		return 0, nil
	}
	res, err := w.Apply(ctx, plan, *f.allowEmpty)
	if errors.Is(err, fleet.ErrEmpty) {
		return 1, fmt.Errorf("%w; --allow-empty if that is meant", err)
	}
	if err != nil && res == nil {
		return 1, err
	}
	if *f.json {
		_ = writeJSONTo(stdout, res)
	} else {
		fmt.Fprintf(stdout, "applied: %d changes in %d transactions, at revision %d\n", res.Changes, res.Transactions, res.Revision)
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

func (f *fleetCommands) runStatus(ctx context.Context, cli *clientv3.Client, layout fleet.Layout, stdout io.Writer) (int, error) {
	fl, err := fleet.ReadFleet(ctx, cli, layout)
	if err != nil {
		return 1, err
	}
	if *f.json {
		return 0, writeJSONTo(stdout, fl)
	}
	return 0, fl.WriteText(stdout, time.Now())
}

func writeJSONTo(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
