package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
		case KindCreateService:
			b.CreateService(ch.Service)
		case KindUpdateService:
			b.UpdateService(ch.Service)
		case KindRemoveService:
			b.RemoveService(ch.Service)
		case KindCreateDestination:
			b.CreateDestination(ch.Service, ch.Destination)
		case KindUpdateDestination, KindDrainDestination:
			b.UpdateDestination(ch.Service, ch.Destination)
		case KindRemoveDestination:
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

// Error returns "reconcile: CHANGE: CAUSE". A cause that is an
// *ipvs.Error, as Client.Apply's results are, is given without the
// operation and the object it starts with, which the change names.
func (e *ChangeError) Error() string {
	cause := e.Err.Error()
	if ie, ok := e.Err.(*ipvs.Error); ok {
		prefix := "ipvs: " + ie.Op
		if ie.Object != "" {
			prefix += " " + ie.Object
		}
		if rest, ok := strings.CutPrefix(cause, prefix+": "); ok {
			cause = rest
		}
	}
	return "reconcile: " + e.Change.String() + ": " + cause
}

// Unwrap returns the write's result, so that errors.Is(err, os.ErrExist)
// and the like see the kernel's answer.
func (e *ChangeError) Unwrap() error { return e.Err }
