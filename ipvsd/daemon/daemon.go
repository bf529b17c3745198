// Package daemon assembles ipvsd: the configuration, the checks, the
// director, the API and metrics, reloads, and systemd's protocol, around
// an IPVS client. Command ipvsd runs it on the kernel's table; tests and
// benchmarks may run it on an in-memory one.
package daemon

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/exporter/collector"
	"github.com/ipvs-go/ipvs/ipvsd/api"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/ipvsd/director"
	"github.com/ipvs-go/ipvs/ipvsd/metrics"
)

// Config configures the daemon, as ipvsd's flags do.
type Config struct {
	// ConfigFile is the configuration file, reloaded on SIGHUP and, with
	// Watch, when it changes.
	ConfigFile string
	Watch      bool
	// StateDir keeps what survives a restart (director.OpenStore).
	StateDir string
	// Listen are where the API listens: "unix:PATH" or "HOST:PORT".
	Listen []string
	// WebConfig is exporter-toolkit's web configuration file, for TLS
	// and basic authentication; "" for none.
	WebConfig string
	// TableMetrics serves the table's metrics (package collector) too.
	TableMetrics bool
	// Logger logs what the daemon does; nil discards.
	Logger *slog.Logger
	// Source, if set, gives the virtual servers instead of the file,
	// which then holds the director's own settings (a fleet's etcd:
	// fleet.Daemon).
	Source Source
}

// Source is where a daemon's virtual servers come from when not from its
// file. Load comes first.
type Source interface {
	// Load reads the director's file at path and returns its content and
	// the configuration to start with.
	Load(ctx context.Context, path string) ([]byte, *config.Config, error)
	// Reload reads the file again (SIGHUP, a change of the file, the
	// API) and puts the configuration in force with it.
	Reload(path string) ([]byte, error)
	// Run keeps the director's configuration as the source says until
	// ctx ends.
	Run(ctx context.Context, d *director.Director) error
	// Observe returns an observer of the director's syncs that tells o
	// and the source.
	Observe(o director.Observer) director.Observer
	// Collectors are the source's metrics.
	Collectors() []prometheus.Collector
	// State is the source's state, in the API's status and at
	// /api/v1/fleet.
	State() any
}

// daemon is a running director with its checks, API and reloader.
type daemon struct {
	log      *slog.Logger
	file     string
	d        *director.Director
	m        *metrics.Metrics
	reloadMu sync.Mutex
	// loaded is the digest of the file's content in force: the file is
	// only compared with it, and its bytes would stay on the heap as long
	// as the daemon runs.
	loaded [sha256.Size]byte
	source Source
}

// Run runs the daemon on the table of client until ctx ends: it loads
// the configuration, opens the state directory, runs the checks and the
// director, serves the API, reloads on SIGHUP and on a change of the
// file, and talks to systemd. When ctx ends it stops, leaving the table
// as it is but for the virtual servers with omega.
func Run(ctx context.Context, c Config, client *ipvs.Client) error {
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var data []byte
	var cfg *config.Config
	var err error
	if c.Source != nil {
		data, cfg, err = c.Source.Load(ctx, c.ConfigFile)
	} else {
		data, cfg, err = ReadConfig(c.ConfigFile)
	}
	if err != nil {
		return err
	}
	store, err := director.OpenStore(c.StateDir)
	if err != nil {
		return err
	}
	var table []*collector.Collector
	if c.TableMetrics {
		tc, err := collector.New(client, collector.WithLogger(log))
		if err != nil {
			return err
		}
		table = append(table, tc)
	}
	m := metrics.New(table...)
	var observer director.Observer = m
	var state func() any
	if c.Source != nil {
		m.Registry().MustRegister(c.Source.Collectors()...)
		observer, state = c.Source.Observe(m), c.Source.State
	}
	sched := check.NewScheduler(check.Options{Observer: m})
	d := director.New(director.Options{Client: client, Checks: sched, Store: store, Logger: log, Observer: observer})
	if err := d.Apply(cfg); err != nil {
		return fmt.Errorf("%s: %w", c.ConfigFile, err)
	}
	m.Watch(d, sched)
	m.Reloaded(true)
	dm := &daemon{log: log, file: c.ConfigFile, d: d, m: m, loaded: sha256.Sum256(data), source: c.Source}

	listeners, err := listen(c.Listen)
	if err != nil {
		return err
	}
	handler := api.NewHandler(api.Options{Director: d, Table: client.VirtualServers, Destinations: client.Destinations, Reload: dm.reload, Metrics: m.Handler(), Logger: log,
		Fleet: state})
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	noSystemdSocket := false
	addrs := slices.Clone(c.Listen)
	flags := &web.FlagConfig{WebListenAddresses: &addrs, WebSystemdSocket: &noSystemdSocket, WebConfigFile: &c.WebConfig}
	served := make(chan error, 1)
	go func() { served <- web.ServeMultiple(listeners, server, flags, log) }()

	runCtx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = sched.Run(runCtx) })
	wg.Go(func() { _ = d.Run(runCtx) })
	if c.Source != nil {
		wg.Go(func() { _ = c.Source.Run(runCtx, d) })
	}
	wg.Go(func() { dm.watchSignals(runCtx) })
	if c.Watch {
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

// ReadConfig reads and validates the configuration file at path, and
// returns its content too. The configuration is compacted: its real
// servers and checks are held resolved only, as the director reads
// them. The garbage collector runs sooner while it reads
// (lessGarbage).
func ReadConfig(path string) ([]byte, *config.Config, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, nil, err
	}
	defer lessGarbage(len(data))()
	cfg, err := config.Parse(path, data)
	if err != nil {
		return nil, nil, err
	}
	cfg.Compact()
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
	var data []byte
	var err error
	if dm.source != nil {
		data, err = dm.source.Reload(dm.file)
	} else {
		var cfg *config.Config
		if data, cfg, err = ReadConfig(dm.file); err == nil {
			err = dm.d.Apply(cfg)
		}
	}
	if err != nil {
		dm.m.Reloaded(false)
		dm.log.Error("reload refused; the running configuration stays", "err", strings.ReplaceAll(err.Error(), "\n", "; "))
		return err
	}
	dm.loaded = sha256.Sum256(data)
	dm.m.Reloaded(true)
	dm.log.Info("reloaded", "config", dm.file)
	return nil
}

// lessGarbage makes the garbage collector run sooner, until the
// function it returns is called, unless the environment (GOGC) asked
// for sooner still or for none. Reading a configuration holds its whole
// YAML tree and the place of each field until validation ends, a few
// times what the configuration keeps: at the usual pace the heap grows
// to twice that before the tree is collected, and the daemon's peak
// memory is there, not in its steady state. The price is a few more
// collections while a file is read. The daemon reads one file at a
// time: reloads hold reloadMu.
//
// A file of size bytes whose reading allocates less than the heap holds
// live already fits in the room the usual pace leaves, and gets no more
// collections, which a small director would pay at each reload for no
// lower peak.
func lessGarbage(size int) (restore func()) {
	if int64(size)*readAllocPerByte <= liveHeap() {
		return func() {}
	}
	old := debug.SetGCPercent(readingGCPercent)
	if old < readingGCPercent {
		debug.SetGCPercent(old)
		return func() {}
	}
	return func() { debug.SetGCPercent(old) }
}

// readingGCPercent is the GOGC while a configuration is read.
const readingGCPercent = 25

// readAllocPerByte is about what reading a configuration allocates per
// byte of its file, tree and validation together, rounded up.
const readAllocPerByte = 160

// liveHeap returns the bytes of the heap the last collection found live.
func liveHeap() int64 {
	s := []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() != rtmetrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}
