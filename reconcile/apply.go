package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ipvs-go/ipvs"
)

// NewPlan reads the table of c once, with Client.VirtualServers, and
// computes the plan to desired (see Compute), which the plan borrows
// until its Changes are made (see Plan). If the plan drains or
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
// write does not stop the ones after it. A creation the kernel refuses
// because the object exists, which the read the plan was made from missed
// (see Compute), is checked again: an object that is there with the
// desired settings is done, one with others is updated.
//
// The error is nil only if every
// write was applied; otherwise it is an *ApplyError, which holds a
// *ChangeError for each write that was not, and why the batch ended early
// if it did. With Options.FlushConntrack, the conntrack flushes of the
// removals applied follow the batch; their error, if any, is joined to
// the writes'.
func (p *Plan) Apply(ctx context.Context, c *ipvs.Client) ([]error, error) {
	if len(p.entries) == 0 {
		return nil, nil
	}
	var b ipvs.Batch
	v := p.view()
	for i := range p.entries {
		ch := v.change(i)
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
	if err != nil {
		p.settle(ctx, c, results)
	}
	return results, p.flushConntrack(ctx, c, results, p.outcome(results, err))
}

// settle reads again the objects whose creation the kernel refused
// because they exist: the read the plan was made from missed them, as the
// kernel's dumps do while any program, in any namespace, removes services
// (see Compute). One that is there was created already: if it has the
// desired settings its change is done, and its result nil; if not, it is
// updated, and the update's result is the change's. A service that is
// there and not owned keeps its refusal, which then says so.
func (p *Plan) settle(ctx context.Context, c *ipvs.Client, results []error) {
	var b ipvs.Batch
	var updated []int // the changes whose update b holds, in order
	read := map[ipvs.ServiceKey][]ipvs.Destination{}
	for i, r := range results {
		if r == nil || !errors.Is(r, os.ErrExist) || i >= len(p.entries) {
			continue
		}
		switch p.entries[i].kind {
		case KindCreateService:
			want := p.change(i).Service
			have, err := c.Service(ctx, want)
			switch {
			case err != nil:
			case p.owns != nil && !p.owns(have):
				results[i] = fmt.Errorf("%w; it is in the table and not owned (Options.Owns)", r)
			case diffService(canonService(have), want) == "":
				results[i] = nil
			default:
				b.UpdateService(want)
				updated = append(updated, i)
			}
		case KindCreateDestination:
			ch := p.change(i)
			k := ch.Service.Key()
			ds, ok := read[k]
			if !ok {
				var err error
				if ds, err = c.Destinations(ctx, ch.Service); err != nil {
					continue
				}
				read[k] = ds
			}
			dk := ch.Destination.Key(k)
			j := slices.IndexFunc(ds, func(d ipvs.Destination) bool { return d.Key(k) == dk })
			if j < 0 {
				continue
			}
			if have := canonDest(k, ds[j]); sameDest(&have, &ch.Destination) {
				results[i] = nil
			} else {
				b.UpdateDestination(ch.Service, ch.Destination)
				updated = append(updated, i)
			}
		}
	}
	if b.Len() == 0 {
		return
	}
	res, _ := c.Apply(ctx, &b)
	for j, i := range updated {
		results[i] = res[j]
	}
}

// outcome turns the results of Client.Apply into Apply's error.
func (p *Plan) outcome(results []error, err error) error {
	e := &ApplyError{Total: len(p.entries)}
	// The client's *ipvs.BatchError holds the refusals, reported below
	// with their change instead; only why the batch ended early, if it
	// did, is kept.
	var be *ipvs.BatchError
	switch {
	case errors.As(err, &be):
		e.Cause = be.Cause
	case err != nil:
		e.Cause = err
	}
	for i, r := range results {
		if r != nil && i < len(p.entries) {
			e.Changes = append(e.Changes, &ChangeError{Change: p.change(i), Err: r})
		}
	}
	if len(results) != len(p.entries) && err == nil {
		e.Cause = fmt.Errorf("reconcile: %d results for %d changes", len(results), len(p.entries))
	}
	e.Failed = len(e.Changes)
	if e.Failed == 0 && e.Cause == nil {
		return nil
	}
	return e
}

// ApplyError is the error of Plan.Apply, and so of Reconciler.Sync, when
// some change was not applied. Its text stays short whatever the size of
// the plan (the counts, the first few changes not applied, and why the
// batch ended early), while every change not applied is in Changes, and
// errors.Is and errors.As see each of them and the cause.
type ApplyError struct {
	// Failed counts the changes not applied, of Total.
	Failed, Total int
	// Cause is why the batch ended before its last write, or nil.
	Cause error
	// Changes holds a *ChangeError for each change not applied, in the
	// order of the plan's changes.
	Changes []*ChangeError
}

// applyErrorShown is how many changes ApplyError.Error spells out.
const applyErrorShown = 3

// Error returns "reconcile: N of M changes not applied: CHANGE: CAUSE;
// ...; and K more; the batch ended early: CAUSE".
func (e *ApplyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "reconcile: %d of %d changes not applied", e.Failed, e.Total)
	for i, ce := range e.Changes[:min(len(e.Changes), applyErrorShown)] {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(ce.text())
	}
	if n := len(e.Changes) - applyErrorShown; n > 0 {
		fmt.Fprintf(&b, "; and %d more", n)
	}
	if e.Cause != nil {
		b.WriteString("; the batch ended early: ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the cause, if any, and each change's error.
func (e *ApplyError) Unwrap() []error {
	errs := make([]error, 0, len(e.Changes)+1)
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	for _, ce := range e.Changes {
		errs = append(errs, ce)
	}
	return errs
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
func (e *ChangeError) Error() string { return "reconcile: " + e.text() }

// text is Error without the package's prefix.
func (e *ChangeError) text() string {
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
	return e.Change.String() + ": " + cause
}

// Unwrap returns the write's result, so that errors.Is(err, os.ErrExist)
// and the like see the kernel's answer.
func (e *ChangeError) Unwrap() error { return e.Err }
