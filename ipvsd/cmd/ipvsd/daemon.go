package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/buildinfo"
	"github.com/ipvs-go/ipvs/ipvsd/daemon"
)

// defaultListen is where the API listens unless told otherwise: a unix
// socket, which only root and the socket's group may use.
const defaultListen = "unix:/run/ipvsd/ipvsd.sock"

// daemonCommand is "ipvsd run", the daemon.
type daemonCommand struct {
	cmd          *kingpin.CmdClause
	configFile   *string
	stateDir     *string
	netns        *string
	listen       *[]string
	webConfig    *string
	watch        *bool
	tableMetrics *bool
	logLevel     *string
	logFormat    *string
	fleet        *daemonFleetFlags
}

func newDaemonCommand(app *kingpin.Application) *daemonCommand {
	c := &daemonCommand{cmd: app.Command("run", "Run the director (the default command).").Default()}
	c.configFile = c.cmd.Flag("config.file", "The configuration file. SIGHUP, or a change of the file, reloads it.").
		Default("/etc/ipvsd/ipvsd.yaml").String()
	c.stateDir = c.cmd.Flag("state.dir", "Where what survives a restart is kept: the changes made through the API, "+
		"admin states, the services owned.").Default(defaultStateDir).String()
	c.netns = netnsFlag(c.cmd)
	c.listen = c.cmd.Flag("web.listen-address", "Where the API, /metrics and /healthz listen, repeatable: unix:PATH for a "+
		"unix socket, or HOST:PORT.").Default(defaultListen).Strings()
	c.webConfig = c.cmd.Flag("web.config.file", "exporter-toolkit web configuration, for TLS and basic authentication "+
		"(https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md).").Default("").String()
	c.watch = c.cmd.Flag("config.watch", "Reload the configuration when its file changes (--no-config.watch: on SIGHUP only).").
		Default("true").Bool()
	c.tableMetrics = c.cmd.Flag("metrics.table", "Serve the table's metrics too, as ipvs_exporter does (--no-metrics.table to leave them out).").
		Default("true").Bool()
	c.logLevel = c.cmd.Flag("log.level", "Log level: debug, info, warn or error.").Default("info").Enum("debug", "info", "warn", "error")
	c.logFormat = c.cmd.Flag("log.format", "Log format: text or json.").Default("text").Enum("text", "json")
	c.fleet = newDaemonFleetFlags(c.cmd)
	return c
}

func (c *daemonCommand) run(ctx context.Context, stderr io.Writer) int {
	log := newLogger(*c.logLevel, *c.logFormat, stderr)
	log.Info("starting", "version", buildinfo.Read().Line("ipvsd"), "config", *c.configFile)
	err := c.start(ctx, log)
	if err != nil {
		log.Error("stopping", "err", err)
		return 1
	}
	return 0
}

// start opens the table and runs the daemon on it until ctx ends.
func (c *daemonCommand) start(ctx context.Context, log *slog.Logger) error {
	client, err := ipvs.New(namespaceConfig(*c.netns))
	if err != nil {
		return err
	}
	defer client.Close()
	cfg := c.config(log)
	src, err := c.fleet.source(*c.stateDir, log)
	if err != nil {
		return err
	}
	if src != nil {
		defer src.Close()
		cfg.Source = src
	}
	return daemon.Run(ctx, cfg, client)
}

// config returns the daemon's configuration from the flags.
func (c *daemonCommand) config(log *slog.Logger) daemon.Config {
	return daemon.Config{ConfigFile: *c.configFile, Watch: *c.watch, StateDir: *c.stateDir, Listen: *c.listen,
		WebConfig: *c.webConfig, TableMetrics: *c.tableMetrics, Logger: log}
}

// newLogger returns the daemon's logger.
func newLogger(level, format string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
