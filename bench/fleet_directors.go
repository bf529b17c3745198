//go:build linux

package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/netns"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/ipvsd/director"
	"github.com/ipvs-go/ipvs/ipvsd/fleet"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// kernelTable returns a table of the kernel in a namespace of its own.
func kernelTable() (*ipvs.Client, func(), error) {
	ns, err := netns.New()
	if err != nil {
		return nil, nil, err
	}
	c, err := ipvs.New(&ipvs.Config{NetNS: ns.Fd()})
	if err != nil {
		ns.Close()
		return nil, nil, err
	}
	return c, func() { c.Close(); ns.Close() }, nil
}

// fakeTable returns an in-memory table.
func fakeTable() (*ipvs.Client, func(), error) {
	c, err := ipvstest.NewFake().NewClient()
	if err != nil {
		return nil, nil, err
	}
	return c, func() { c.Close() }, nil
}

// benchDirector is one director of the fleet and what its syncs wrote.
type benchDirector struct {
	name    string
	src     *fleet.Source
	close   func()
	mu      sync.Mutex
	wrote   time.Time // the end of its last sync that wrote
	writes  int       // writes the table took
	syncErr string    // what its last sync that failed said
}

func (b *benchDirector) Synced(r director.SyncReport) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.Err != nil || len(r.Failed) > 0 {
		b.syncErr = fmt.Sprintf("%v, %d writes refused", r.Err, len(r.Failed))
	}
	if len(r.Changes) == 0 {
		return
	}
	b.wrote = r.Start.Add(r.Duration)
	b.writes += len(r.Changes) - len(r.Failed)
}

func (b *benchDirector) state() (time.Time, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.wrote, b.writes
}

// startDirector starts director name on a new table, and returns once
// its first configuration is in force.
func startDirector(ctx context.Context, name, endpoint string, layout fleet.Layout, interval time.Duration,
	newTable func() (*ipvs.Client, func(), error)) (*benchDirector, error) {
	table, closeTable, err := newTable()
	if err != nil {
		return nil, err
	}
	cli, err := fleet.Connection{Endpoints: []string{endpoint}}.Client()
	if err != nil {
		closeTable()
		return nil, err
	}
	b := &benchDirector{name: name}
	every := config.Duration(interval)
	src, err := fleet.NewSource(fleet.Options{Client: cli, Layout: layout, LeaseTTL: fleetLeaseTTL, StartTimeout: time.Minute},
		config.Director{Node: name, SyncInterval: &every}, "bench")
	if err != nil {
		return nil, err
	}
	cfg, err := src.Load(ctx)
	if err != nil {
		return nil, err
	}
	sched := check.NewScheduler(check.Options{})
	d := director.New(director.Options{Client: table, Checks: sched, Observer: src.Observe(b)})
	if err := d.Apply(cfg); err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = sched.Run(runCtx) })
	wg.Go(func() { _ = d.Run(runCtx) })
	wg.Go(func() { _ = src.Run(runCtx, d) })
	b.src = src
	b.close = func() { stop(); wg.Wait(); cli.Close(); closeTable() }
	return b, nil
}

// waitAll waits until every director has written after since (with
// since zero: has n virtual servers in force).
func waitAll(ctx context.Context, ds []*benchDirector, since time.Time, n int) error {
	said := time.Now()
	for {
		var waiting []string
		for _, b := range ds {
			if since.IsZero() {
				if st := b.src.Status(); st.Selected != n || st.Applied != st.Revision {
					b.mu.Lock()
					syncErr := b.syncErr
					b.mu.Unlock()
					waiting = append(waiting, fmt.Sprintf("%s (%d of %d virtual servers, revision %d applied of %d, etcd connected: %v %s, last sync: %s)",
						b.name, st.Selected, n, st.Applied, st.Revision, st.Connected, st.Error+st.ApplyError, syncErr))
				}
				continue
			}
			if t, _ := b.state(); !t.After(since) {
				waiting = append(waiting, b.name)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		if time.Since(said) > 30*time.Second {
			progress("waiting for %s", strings.Join(waiting, ", "))
			said = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("directors never converged: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}
