package reconcile

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipvs-go/ipvs"
)

// NewPlan reads the table of c once, with Client.VirtualServers, and
// computes the plan to desired (see Compute). If the plan drains or
// removes a destination and opts.Sysctls is nil, it also reads the
// namespace's sysctls for the plan's advisories.
func NewPlan(ctx context.Context, c *ipvs.Client, desired []ipvs.VirtualServer, opts Options) (*Plan, error) {
	current, err := c.VirtualServers(ctx)
	if err != nil {
		return nil, err
	}
	p, err := Compute(current, desired, opts)
	if err != nil {
		return nil, err
	}
	p.adviseFrom(ctx, c, &opts)
	return p, nil
}

// Apply sends the plan's writes to c in one ipvs.Batch, with one call of
// Client.Apply, in the order of Changes. An empty plan sends nothing.
//
// The results are one per change, in the order of Changes: nil if the
// kernel applied it, else why not (as Client.Apply reports it). A refused
// write does not stop the ones after it. The error is nil only if every
// write was applied; otherwise it joins a *ChangeError for each write that
// was not, and says why the batch ended early if it did.
func (p *Plan) Apply(ctx context.Context, c *ipvs.Client) ([]error, error) {
	if len(p.entries) == 0 {
		return nil, nil
	}
	var b ipvs.Batch
	for i := range p.entries {
		ch := p.change(i)
		switch ch.Kind {
		case CreateService:
			b.CreateService(ch.Service)
		case UpdateService:
			b.UpdateService(ch.Service)
		case RemoveService:
			b.RemoveService(ch.Service)
		case CreateDestination:
			b.CreateDestination(ch.Service, ch.Destination)
		case UpdateDestination, DrainDestination:
			b.UpdateDestination(ch.Service, ch.Destination)
		case RemoveDestination:
			b.RemoveDestination(ch.Service, ch.Destination)
		}
	}
	results, err := c.Apply(ctx, &b)
	return results, p.outcome(results, err)
}

// outcome turns the results of Client.Apply into Apply's error.
func (p *Plan) outcome(results []error, err error) error {
	var failed []error
	// The client's *ipvs.BatchError joins the refusals, reported below
	// with their change instead; only why the batch ended early, if it
	// did, is kept.
	var be *ipvs.BatchError
	switch {
	case errors.As(err, &be):
		if be.Cause != nil {
			failed = append(failed, be.Cause)
		}
	case err != nil:
		failed = append(failed, err)
	}
	for i, r := range results {
		if r != nil && i < len(p.entries) {
			failed = append(failed, &ChangeError{Change: p.change(i), Err: r})
		}
	}
	if len(results) != len(p.entries) && err == nil {
		failed = append(failed, fmt.Errorf("reconcile: %d results for %d changes", len(results), len(p.entries)))
	}
	return errors.Join(failed...)
}

// ChangeError is a change of a plan that was not applied.
type ChangeError struct {
	Change Change
	// Err is the write's result, as ipvs.Client.Apply gave it.
	Err error
}

// Error returns "reconcile: CHANGE: ERR".
func (e *ChangeError) Error() string { return "reconcile: " + e.Change.String() + ": " + e.Err.Error() }

// Unwrap returns the write's result, so that errors.Is(err, os.ErrExist)
// and the like see the kernel's answer.
func (e *ChangeError) Unwrap() error { return e.Err }
