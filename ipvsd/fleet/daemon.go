package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/ipvsd/director"
)

// Daemon is a fleet's Source as ipvsd's daemon takes it (its
// daemon.Source): the virtual servers from etcd, the director's own
// settings from its file.
type Daemon struct {
	cli  *clientv3.Client
	opts Options
	src  *Source
}

// NewDaemon connects to etcd (without waiting for it) for a daemon;
// opts.Client is made from conn. Close closes it.
func NewDaemon(conn Connection, opts Options) (*Daemon, error) {
	cli, err := conn.Client()
	if err != nil {
		return nil, err
	}
	opts.Client = cli
	return &Daemon{cli: cli, opts: opts}, nil
}

// Load reads the director's file at path (its own settings) and returns
// its content and the configuration to start with (see Source.Load).
func (d *Daemon) Load(ctx context.Context, path string) ([]byte, *config.Config, error) {
	data, file, err := ReadDirectorFile(path)
	if err != nil {
		return nil, nil, err
	}
	if d.src, err = NewSource(d.opts, file.Director, path); err != nil {
		return nil, nil, err
	}
	cfg, err := d.src.Load(ctx)
	return data, cfg, err
}

// Reload reads the director's file again and puts the configuration in
// force with its settings.
func (d *Daemon) Reload(path string) ([]byte, error) {
	data, file, err := ReadDirectorFile(path)
	if err != nil {
		return nil, err
	}
	return data, d.src.Reload(file.Director, path)
}

// Run runs the Source for the director until ctx ends.
func (d *Daemon) Run(ctx context.Context, dir *director.Director) error { return d.src.Run(ctx, dir) }

// Observe makes the Source hear of the director's syncs too.
func (d *Daemon) Observe(o director.Observer) director.Observer { return d.src.Observe(o) }

// Collectors returns the Source's metrics.
func (d *Daemon) Collectors() []prometheus.Collector { return d.src.Collectors() }

// State returns the Source's status, for the API.
func (d *Daemon) State() any { return d.src.Status() }

// Source returns the Source, once loaded.
func (d *Daemon) Source() *Source { return d.src }

// Close closes the etcd client.
func (d *Daemon) Close() error { return d.cli.Close() }

// ReadDirectorFile reads a fleet director's own file: its director
// section. It lists no virtual servers (they are the fleet's, in etcd);
// a missing file is every setting's default.
func ReadDirectorFile(path string) ([]byte, *config.Config, error) {
	data, missing, err := ReadFile(path)
	if missing {
		return nil, &config.Config{Source: path}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	cfg, err := config.Parse(path, data)
	if err != nil {
		return nil, nil, err
	}
	if n := len(cfg.VirtualServers); n > 0 {
		return nil, nil, fmt.Errorf("%s: %d virtual servers: in a fleet they are in etcd (ipvsd fleet apply), and "+
			"this file holds the director's own settings only (virtual_servers: [])", path, n)
	}
	return data, cfg, nil
}

// ReadFile reads a configuration file, no more of it than a
// configuration may be (config.Parse refuses a larger one); missing says
// it does not exist.
func ReadFile(path string) (data []byte, missing bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, true, err
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, config.MaxSize+1))
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", path, err)
	}
	return data, false, nil
}
