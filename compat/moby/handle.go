package ipvs

import (
	"context"
	"time"

	lib "github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/compat/coalesce"
	"github.com/ipvs-go/ipvs/compat/readahead"
)

// Handle is a connection to IPVS in one network namespace. Unlike
// moby/ipvs's, it is safe for concurrent use.
type Handle struct {
	c      *lib.Client
	walk   readahead.Walk
	writer coalesce.Writer
}

// New returns a Handle for the network namespace at path (such as
// /var/run/netns/NAME), or for the calling thread's when path is empty.
// Without IPVS in the kernel it fails at once, with an error matching
// os.ErrNotExist, where moby/ipvs logs and fails at the first call.
func New(path string) (*Handle, error) {
	c, err := lib.New(&lib.Config{NetNSPath: path})
	if err != nil {
		return nil, err
	}
	return newHandle(c), nil
}

func newHandle(c *lib.Client) *Handle { return &Handle{c: c} }

// Close closes the handle; it is not usable afterwards.
func (i *Handle) Close() {
	_ = i.c.Close()
}

// ctx is the context of every call: the peer's API has none, and the
// library bounds each wait for the kernel by its reply timeout.
func ctx() context.Context { return context.Background() }

// NewService creates the service s.
func (i *Handle) NewService(s *Service) error {
	return i.serviceWrite(s, coalesce.CreateService)
}

// IsServicePresent reports whether the service s identifies exists.
func (i *Handle) IsServicePresent(s *Service) bool {
	svc, err := toService(s)
	if err != nil {
		return false
	}
	_, err = i.c.Service(ctx(), svc)
	return err == nil
}

// UpdateService replaces the settings of the service s identifies.
func (i *Handle) UpdateService(s *Service) error {
	return i.serviceWrite(s, coalesce.UpdateService)
}

// DelService removes the service s identifies, with its destinations.
func (i *Handle) DelService(s *Service) error {
	return i.serviceWrite(s, coalesce.RemoveService)
}

// serviceWrite converts the operand of a service write of this kind and
// makes it.
func (i *Handle) serviceWrite(s *Service, kind coalesce.Kind) error {
	svc, err := toService(s)
	if err != nil {
		return err
	}
	return i.write(coalesce.Op{Kind: kind, Service: svc})
}

// write makes op, as a single call or, beside other callers' writes, in a
// batch (see package coalesce), through the walk, which then drops what it
// read ahead of the service (see package readahead).
func (i *Handle) write(op coalesce.Op) error {
	return kernelError(i.walk.Write(op.Service, func() error { return i.writer.Do(ctx(), i.c, op) }))
}

// Flush removes every service.
func (i *Handle) Flush() error {
	return kernelError(i.walk.WriteAll(func() error { return i.c.Flush(ctx()) }))
}

// NewDestination adds the destination d to the service s identifies.
func (i *Handle) NewDestination(s *Service, d *Destination) error {
	return i.destinationWrite(s, d, coalesce.CreateDestination)
}

// UpdateDestination replaces the settings of the destination d of the
// service s identifies.
func (i *Handle) UpdateDestination(s *Service, d *Destination) error {
	return i.destinationWrite(s, d, coalesce.UpdateDestination)
}

// DelDestination removes the destination d from the service s
// identifies.
func (i *Handle) DelDestination(s *Service, d *Destination) error {
	return i.destinationWrite(s, d, coalesce.RemoveDestination)
}

// destinationWrite converts the operands of a destination write of this
// kind and makes it.
func (i *Handle) destinationWrite(s *Service, d *Destination, kind coalesce.Kind) error {
	svc, err := toService(s)
	if err != nil {
		return err
	}
	dst, err := toDestination(d)
	if err != nil {
		return err
	}
	return i.write(coalesce.Op{Kind: kind, Service: svc, Destination: dst})
}

// GetServices returns every service of the namespace; nil when there are
// none.
func (i *Handle) GetServices() ([]*Service, error) {
	svcs, err := i.c.Services(ctx())
	if err != nil {
		return nil, kernelError(err)
	}
	i.walk.List(svcs)
	return fromServices(svcs), nil
}

// GetDestinations returns the destinations of the service s identifies;
// nil when it has none or does not exist, as the kernel answers both
// alike.
func (i *Handle) GetDestinations(s *Service) ([]*Destination, error) {
	svc, err := toService(s)
	if err != nil {
		return nil, err
	}
	dests, ok := i.walk.Destinations(ctx(), i.c, svc)
	if !ok {
		if dests, err = i.c.Destinations(ctx(), svc); err != nil {
			return nil, kernelError(err)
		}
	}
	return fromDestinations(dests), nil
}

// GetService returns the service s identifies, with its settings and
// stats. If it does not exist, the error is syscall.ESRCH.
func (i *Handle) GetService(s *Service) (*Service, error) {
	svc, err := toService(s)
	if err != nil {
		return nil, err
	}
	got, err := i.c.Service(ctx(), svc)
	if err != nil {
		return nil, kernelError(err)
	}
	var out Service
	fromService(&got, &out, make([]byte, 16))
	return &out, nil
}

// GetConfig returns the connection timeouts of the namespace.
func (i *Handle) GetConfig() (*Config, error) {
	t, err := i.c.Timeouts(ctx())
	if err != nil {
		return nil, kernelError(err)
	}
	return &Config{TimeoutTCP: t.TCP, TimeoutTCPFin: t.TCPFin, TimeoutUDP: t.UDP}, nil
}

// SetConfig sets the connection timeouts of the namespace; zero ones are
// left unchanged, and fractions of a second dropped.
func (i *Handle) SetConfig(c *Config) error {
	if c == nil {
		return &lib.InvalidError{Field: "config", Reason: "is nil"}
	}
	t := lib.Timeouts{
		TCP:    c.TimeoutTCP.Truncate(time.Second),
		TCPFin: c.TimeoutTCPFin.Truncate(time.Second),
		UDP:    c.TimeoutUDP.Truncate(time.Second),
	}
	return kernelError(i.c.SetTimeouts(ctx(), t))
}
