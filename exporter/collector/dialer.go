package collector

import (
	"context"
	"errors"
	"sync"

	"github.com/ipvs-go/ipvs"
)

// Dialer is a Source that opens its ipvs.Client on first use, and tries
// again at each later use while that fails, so that an exporter started
// before the ip_vs module is loaded reports ipvs_up 0 until it is, then
// the table.
type Dialer struct {
	cfg ipvs.Config
	mu  sync.Mutex
	c   *ipvs.Client
	// closed is set by Close: later uses fail instead of dialing again.
	closed bool
}

// NewDialer returns a Dialer of clients configured by cfg (nil: the
// caller's network namespace). It opens nothing yet.
func NewDialer(cfg *ipvs.Config) *Dialer {
	d := &Dialer{}
	if cfg != nil {
		d.cfg = *cfg
	}
	return d
}

// errDialerClosed is the error of a Dialer used after Close.
var errDialerClosed = errors.New("collector: the Dialer is closed")

// client returns the open client, opening it if need be.
func (d *Dialer) client() (*ipvs.Client, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errDialerClosed
	}
	if d.c == nil {
		cfg := d.cfg
		c, err := ipvs.New(&cfg)
		if err != nil {
			return nil, err
		}
		d.c = c
	}
	return d.c, nil
}

// VirtualServers reads every service with its destinations.
func (d *Dialer) VirtualServers(ctx context.Context) ([]ipvs.VirtualServer, error) {
	c, err := d.client()
	if err != nil {
		return nil, err
	}
	return c.VirtualServers(ctx)
}

// Services reads every service, without destinations.
func (d *Dialer) Services(ctx context.Context) ([]ipvs.Service, error) {
	c, err := d.client()
	if err != nil {
		return nil, err
	}
	return c.Services(ctx)
}

// Info reads the kernel's IPVS version and connection table size.
func (d *Dialer) Info(ctx context.Context) (ipvs.Info, error) {
	c, err := d.client()
	if err != nil {
		return ipvs.Info{}, err
	}
	return c.Info(ctx)
}

// Timeouts reads the namespace's connection timeouts.
func (d *Dialer) Timeouts(ctx context.Context) (ipvs.Timeouts, error) {
	c, err := d.client()
	if err != nil {
		return ipvs.Timeouts{}, err
	}
	return c.Timeouts(ctx)
}

// Daemons reads the namespace's synchronization daemons.
func (d *Dialer) Daemons(ctx context.Context) ([]ipvs.Daemon, error) {
	c, err := d.client()
	if err != nil {
		return nil, err
	}
	return c.Daemons(ctx)
}

// ConnectionStates counts the entries of the connection table f selects
// by state.
func (d *Dialer) ConnectionStates(ctx context.Context, f ipvs.ConnectionFilter) (map[string]int, error) {
	c, err := d.client()
	if err != nil {
		return nil, err
	}
	return c.ConnectionStates(ctx, f)
}

// Totals reads the namespace's totals.
func (d *Dialer) Totals(ctx context.Context) (ipvs.Stats, error) {
	c, err := d.client()
	if err != nil {
		return ipvs.Stats{}, err
	}
	return c.Totals(ctx)
}

// Close closes the client, if one is open; later uses fail.
func (d *Dialer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.c == nil {
		return nil
	}
	err := d.c.Close()
	d.c = nil
	return err
}
