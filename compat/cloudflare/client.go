package ipvs

import (
	"context"
	"errors"
	"os"
	"time"

	lib "github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/compat/coalesce"
	"github.com/ipvs-go/ipvs/compat/readahead"
)

// New returns a Client of IPVS in the calling thread's network
// namespace. Without IPVS in the kernel, the error matches
// os.ErrNotExist.
func New() (Client, error) {
	return newClient()
}

// client implements Client on the library's Client.
type client struct {
	c      *lib.Client
	walk   readahead.Walk
	writer coalesce.Writer
}

var _ Client = (*client)(nil)

func newClient() (*client, error) {
	c, err := lib.New(nil)
	if err != nil {
		return nil, err
	}
	return &client{c: c}, nil
}

// ctx is the context of every call: the peer's API has none, and the
// library bounds each wait for the kernel by its reply timeout.
func ctx() context.Context { return context.Background() }

// Close closes the client.
func (c *client) Close() error { return c.c.Close() }

// Info returns the IPVS version and the connection table size.
func (c *client) Info() (Info, error) {
	info, err := c.c.Info(ctx())
	if err != nil {
		return Info{}, kernelError(err)
	}
	v := info.Version
	return Info{Version: [3]int{int(v.Major), int(v.Minor), int(v.Patch)}, ConnectionTableSize: info.ConnectionTableSize}, nil
}

// Config returns the connection timeouts.
func (c *client) Config() (Config, error) {
	t, err := c.c.Timeouts(ctx())
	if err != nil {
		return Config{}, kernelError(err)
	}
	return Config{TCPTimeout: seconds(t.TCP), TCPFinTimeout: seconds(t.TCPFin), UDPTimeout: seconds(t.UDP)}, nil
}

// SetConfig sets the connection timeouts; zero ones are left unchanged.
func (c *client) SetConfig(config Config) error {
	t := lib.Timeouts{TCP: duration(config.TCPTimeout), TCPFin: duration(config.TCPFinTimeout), UDP: duration(config.UDPTimeout)}
	return kernelError(c.c.SetTimeouts(ctx(), t))
}

// Services returns every service; an empty table is an empty list, where
// cloudflare/ipvs answers os.ErrNotExist.
func (c *client) Services() ([]ServiceExtended, error) {
	svcs, err := c.c.Services(ctx())
	if err != nil {
		return nil, kernelError(err)
	}
	c.walk.List(svcs)
	out := make([]ServiceExtended, len(svcs))
	for i := range svcs {
		out[i] = fromService(&svcs[i])
	}
	return out, nil
}

// Service returns the service svc identifies. If it does not exist, the
// error carries syscall.ESRCH.
func (c *client) Service(svc Service) (ServiceExtended, error) {
	got, err := c.c.Service(ctx(), toService(svc))
	if err != nil {
		return ServiceExtended{}, kernelError(err)
	}
	return fromService(&got), nil
}

// CreateService creates a service.
func (c *client) CreateService(svc Service) error {
	return c.write(coalesce.Op{Kind: coalesce.CreateService, Service: toService(svc)})
}

// UpdateService replaces the settings of the service svc identifies.
func (c *client) UpdateService(svc Service) error {
	return c.write(coalesce.Op{Kind: coalesce.UpdateService, Service: toService(svc)})
}

// RemoveService removes the service svc identifies, with its
// destinations.
func (c *client) RemoveService(svc Service) error {
	return c.write(coalesce.Op{Kind: coalesce.RemoveService, Service: toService(svc)})
}

// write makes op, as a single call or, beside other callers' writes, in a
// batch (see package coalesce), through the walk, which then drops what it
// read ahead of the service (see package readahead).
func (c *client) write(op coalesce.Op) error {
	return kernelError(c.walk.Write(op.Service, func() error { return c.writer.Do(ctx(), c.c, op) }))
}

// Destinations returns the destinations of the service svc identifies:
// an empty list if it has none, and os.ErrNotExist if it does not exist.
// The kernel answers both with an empty list, which cloudflare/ipvs turns
// into os.ErrNotExist; an empty answer is therefore checked with a lookup
// of the service.
func (c *client) Destinations(svc Service) ([]DestinationExtended, error) {
	s := toService(svc)
	dests, ok := c.walk.Destinations(ctx(), c.c, s)
	if !ok {
		var err error
		if dests, err = c.c.Destinations(ctx(), s); err != nil {
			return nil, kernelError(err)
		}
		if len(dests) == 0 {
			if _, err := c.c.Service(ctx(), s); errors.Is(err, os.ErrNotExist) {
				return nil, os.ErrNotExist
			}
		}
	}
	out := make([]DestinationExtended, len(dests))
	for i := range dests {
		out[i] = fromDestination(&dests[i])
	}
	return out, nil
}

// CreateDestination adds a destination to the service svc identifies.
func (c *client) CreateDestination(svc Service, dest Destination) error {
	return c.write(coalesce.Op{Kind: coalesce.CreateDestination, Service: toService(svc), Destination: toDestination(dest)})
}

// UpdateDestination replaces the settings of a destination.
func (c *client) UpdateDestination(svc Service, dest Destination) error {
	return c.write(coalesce.Op{Kind: coalesce.UpdateDestination, Service: toService(svc), Destination: toDestination(dest)})
}

// RemoveDestination removes a destination from the service svc
// identifies.
func (c *client) RemoveDestination(svc Service, dest Destination) error {
	return c.write(coalesce.Op{Kind: coalesce.RemoveDestination, Service: toService(svc), Destination: toDestination(dest)})
}

// seconds and duration convert the Config's whole seconds.
func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }

func duration(s uint32) time.Duration { return time.Duration(s) * time.Second }
