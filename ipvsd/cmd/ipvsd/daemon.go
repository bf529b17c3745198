package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/exporter/collector"
	"github.com/ipvs-go/ipvs/internal/buildinfo"
	"github.com/ipvs-go/ipvs/ipvsd/api"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/ipvsd/director"
	"github.com/ipvs-go/ipvs/ipvsd/metrics"
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
	return c
}

// daemon is a running director with its checks, API and reloader.
type daemon struct {
	log      *slog.Logger
	file     string
	d        *director.Director
	m        *metrics.Metrics
	reloadMu sync.Mutex
	loaded   []byte // the file's content in force
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

// start opens the table and serves it until ctx ends.
func (c *daemonCommand) start(ctx context.Context, log *slog.Logger) error {
	client, err := ipvs.New(namespaceConfig(*c.netns))
	if err != nil {
		return err
	}
	defer client.Close()
	return c.serve(ctx, log, client)
}

// serve runs the daemon on the table of client until ctx ends.
func (c *daemonCommand) serve(ctx context.Context, log *slog.Logger, client *ipvs.Client) error {
	data, cfg, err := loadConfig(*c.configFile)
	if err != nil {
		return err
	}
	store, err := director.OpenStore(*c.stateDir)
	if err != nil {
		return err
	}
	var table []prometheus.Collector
	if *c.tableMetrics {
		tc, err := collector.New(client, collector.WithLogger(log))
		if err != nil {
			return err
		}
		table = append(table, tc)
	}
	m := metrics.New(table...)
	sched := check.NewScheduler(check.Options{Observer: m})
	d := director.New(director.Options{Client: client, Checks: sched, Store: store, Logger: log, Observer: m})
	if err := d.Apply(cfg); err != nil {
		return fmt.Errorf("%s: %w", *c.configFile, err)
	}
	m.Watch(d, sched)
	m.Reloaded(true)
	dm := &daemon{log: log, file: *c.configFile, d: d, m: m, loaded: data}

	listeners, err := listen(*c.listen)
	if err != nil {
		return err
	}
	handler := api.NewHandler(api.Options{Director: d, Table: client.VirtualServers, Reload: dm.reload, Metrics: m.Handler(), Logger: log})
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	noSystemdSocket := false
	addrs := *c.listen
	flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &noSystemdSocket, WebConfigFile: c.webConfig}
	served := make(chan error, 1)
	go func() { served <- web.ServeMultiple(listeners, server, flags, log) }()

	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = sched.Run(runCtx) })
	wg.Go(func() { _ = d.Run(runCtx) })
	wg.Go(func() { dm.watchSignals(runCtx) })
	if *c.watch {
		wg.Go(func() { dm.watchFile(runCtx) })
	}
	wg.Go(func() { systemdWatchdog(runCtx, d, log) })
	notifySystemd("READY=1", log)

	var result error
	select {
	case <-ctx.Done():
		log.Info("stopping: the table stays as it is, but for the virtual servers with omega")
	case err := <-served:
		result = fmt.Errorf("serving the API: %w", err)
	}
	notifySystemd("STOPPING=1", log)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdownCtx)
	stop()
	wg.Wait()
	return result
}

// loadConfig reads and validates the configuration file.
func loadConfig(path string) ([]byte, *config.Config, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := config.Parse(path, data)
	if err != nil {
		return nil, nil, err
	}
	return data, cfg, nil
}

// reload loads the configuration file again and puts it in force; a file
// that does not load, or can not be put in force, is refused whole and
// the running configuration stays.
func (dm *daemon) reload() error {
	dm.reloadMu.Lock()
	defer dm.reloadMu.Unlock()
	notifySystemd(reloadingNotice(), dm.log)
	defer notifySystemd("READY=1", dm.log)
	data, cfg, err := loadConfig(dm.file)
	if err == nil {
		err = dm.d.Apply(cfg)
	}
	if err != nil {
		dm.m.Reloaded(false)
		dm.log.Error("reload refused; the running configuration stays", "err", strings.ReplaceAll(err.Error(), "\n", "; "))
		return err
	}
	dm.loaded = data
	dm.m.Reloaded(true)
	dm.log.Info("reloaded", "config", dm.file)
	return nil
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
