package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/ipvsd/director"
)

// Director is what a Source drives: a *director.Director.
type Director interface {
	Apply(cfg *config.Config) error
	Status(table []ipvs.VirtualServer) director.Status
}

// Options configure a Source.
type Options struct {
	// Client is the etcd client (Connection.Client makes one).
	Client *clientv3.Client
	Layout Layout
	// StateDir holds the local copy of the last good configuration
	// (CopyFile), from which a director starts when etcd can not be
	// reached; "" keeps none.
	StateDir string
	// LeaseTTL is the time to live of the director's state key after
	// its last word with etcd; default 15s.
	LeaseTTL time.Duration
	// StatusInterval is how often the director's state is looked at,
	// and written when it changed; default 1s.
	StatusInterval time.Duration
	// StartTimeout bounds the first read at start-up, after which the
	// local copy is used; default 10s.
	StartTimeout time.Duration
	// Version is the ipvsd build, written in the director's state.
	Version string
	Logger  *slog.Logger
}

// Source is the fleet's side of a director: the virtual servers in etcd
// that select it, put in force as they change, and its state written
// back. Load, then Run.
type Source struct {
	opts   Options
	cli    *clientv3.Client
	log    *slog.Logger
	stats  *stats
	reread chan struct{} // asks the watch loop to read everything again

	// applyMu makes the configuration put in force one at a time.
	applyMu sync.Mutex
	d       Director

	mu         sync.Mutex
	base       config.Director // the director's own settings
	source     string          // where base came from
	keys       *keys
	rev        int64 // the last revision of the configuration read
	clusterID  uint64
	selected   map[string]bool // the virtual servers in force, by name
	conflicts  []KeyError
	held       bool // an apply of several transactions is under way
	inForce    int64
	inForceAt  time.Time
	applied    int64 // the revision the table was last synced to whole
	appliedAt  time.Time
	applyErr   string
	lastPlan   *PlanRecord
	syncErrors []string
	conn       connState
	lastOutage *Outage
	copyDirty  bool
	copyRev    int64
}

// connState is what the director knows of its link to etcd.
type connState struct {
	up          bool
	since       time.Time // of the last change of up
	lastContact time.Time
	err         string
}

// NewSource returns a Source for the director whose own settings are
// base (its file's director section; source names the file).
func NewSource(opts Options, base config.Director, source string) (*Source, error) {
	if opts.Client == nil {
		return nil, errors.New("fleet: no etcd client")
	}
	if opts.Layout.prefix == "" {
		opts.Layout, _ = NewLayout(DefaultPrefix)
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 15 * time.Second
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Source{opts: opts, cli: opts.Client, log: opts.Logger, stats: newStats(), reread: make(chan struct{}, 1),
		keys: newKeys(opts.Layout), selected: map[string]bool{}}
	s.setBase(base, source)
	return s, nil
}

// setBase takes the director's own settings.
func (s *Source) setBase(base config.Director, source string) {
	if base.Node == "" {
		base.Node, _ = os.Hostname()
	}
	s.mu.Lock()
	s.base, s.source = base, source
	s.mu.Unlock()
}

// Node returns the director's name.
func (s *Source) Node() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base.Node
}

// start returns the configuration to start with, in force from now: the
// daemon applies it before its director's loop runs.
func (s *Source) start() *config.Config {
	cfg := s.compose()
	s.mu.Lock()
	s.inForce, s.inForceAt = s.rev, time.Now()
	s.mu.Unlock()
	return cfg
}

// Load returns the configuration to start with: everything read from
// etcd, or, when etcd does not answer within StartTimeout, the local
// copy of the last good one. Without a copy it waits for etcd until ctx
// ends: guessing the desired state would risk the table.
func (s *Source) Load(ctx context.Context) (*config.Config, error) {
	tctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
	err := s.readAll(tctx, "start")
	cancel()
	if err == nil {
		s.reachable()
		return s.start(), nil
	}
	s.unreachable(err)
	if c, cerr := s.loadCopy(); cerr != nil {
		s.log.Error("the local copy of the fleet's configuration can not be used", "err", cerr)
	} else if c {
		s.mu.Lock()
		rev := s.rev
		s.mu.Unlock()
		s.log.Warn("etcd unreachable: starting from the local copy of the last good configuration", "revision", rev, "err", err)
		return s.start(), nil
	}
	s.log.Error("etcd unreachable and no local copy: waiting for etcd", "err", err)
	for backoff := time.Second; ; backoff = min(2*backoff, 30*time.Second) {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("etcd unreachable and no local copy of the configuration: %w", err)
		case <-time.After(backoff):
		}
		tctx, cancel := context.WithTimeout(ctx, s.opts.StartTimeout)
		err = s.readAll(tctx, "start")
		cancel()
		if err == nil {
			s.reachable()
			return s.start(), nil
		}
		s.log.Warn("etcd still unreachable", "err", err)
	}
}

// compose returns the configuration in force now: the director's own
// settings and the virtual servers that select it.
func (s *Source) compose() *config.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.composeLocked()
}

func (s *Source) composeLocked() *config.Config {
	vss, conflicts := s.keys.selected(s.base.Node, s.base.Labels)
	s.conflicts = conflicts
	s.selected = make(map[string]bool, len(vss))
	for _, vs := range vss {
		s.selected[vs.Name] = true
	}
	src := fmt.Sprintf("etcd %s (revision %d)", s.opts.Layout.prefix, s.rev)
	if s.source != "" {
		src += " with " + s.source
	}
	return &config.Config{Source: src, File: config.File{Director: s.base, VirtualServers: vss}}
}

// Reload takes new settings of the director itself (its file, read
// again) and puts the configuration in force with them.
func (s *Source) Reload(base config.Director, source string) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	old, oldSource := s.base, s.source
	s.mu.Unlock()
	s.setBase(base, source)
	if s.d == nil {
		return nil
	}
	if err := s.d.Apply(s.compose()); err != nil {
		s.setBase(old, oldSource)
		return err
	}
	return nil
}

// put puts in force what the keys now say, unless an apply is under way
// or nothing that selects this director changed; changed are the
// virtual servers whose keys changed. On an error, the configuration in
// force stays and the error is reported.
func (s *Source) put(changed []string, wasSelected map[string]bool) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	if s.held {
		s.mu.Unlock()
		return
	}
	affects := false
	for _, name := range changed {
		e := s.keys.good[name]
		if wasSelected[name] || e != nil && e.vs.Selects(s.base.Node, s.base.Labels) {
			affects = true
			break
		}
	}
	if !affects && s.applyErr == "" {
		// The table needs no change: the revision is in force, and is
		// applied if the last one was.
		if s.applied == s.inForce {
			s.applied, s.appliedAt = s.rev, time.Now()
		}
		s.inForce, s.inForceAt = s.rev, time.Now()
		s.copyDirty = true
		s.mu.Unlock()
		return
	}
	cfg := s.composeLocked()
	rev := s.rev
	s.mu.Unlock()
	err := s.d.Apply(cfg)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.applyErr = fmt.Sprintf("revision %d: %s", rev, strings.ReplaceAll(err.Error(), "\n", "; "))
		s.log.Error("the fleet's configuration was refused; the last good one stays in force", "revision", rev, "err", err)
		return
	}
	s.applyErr = ""
	s.inForce, s.inForceAt = rev, time.Now()
	s.copyDirty = true
}

// Synced hears of each sync of the director, to know which revision
// the table holds: one that was in force when a sync began, and that the
// sync applied whole. Wrap the director's observer with Observe.
func (s *Source) Synced(r director.SyncReport) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncErrors = s.syncErrors[:0]
	if r.Err != nil {
		s.syncErrors = append(s.syncErrors, "sync: "+r.Err.Error())
	}
	for _, f := range r.Failed {
		s.syncErrors = append(s.syncErrors, "write refused: "+f.Error())
	}
	if len(r.Changes) > 0 {
		p := &PlanRecord{At: r.Start, Revision: s.inForce}
		for i, c := range r.Changes {
			if i == maxListed {
				p.More = len(r.Changes) - i
				break
			}
			p.Changes = append(p.Changes, c.String())
		}
		s.lastPlan = p
	}
	if r.Err == nil && len(r.Failed) == 0 && !r.Start.Before(s.inForceAt) && s.applied != s.inForce {
		s.applied, s.appliedAt = s.inForce, time.Now()
	}
}

// Observe returns an observer that tells both o and the Source of each
// sync.
func (s *Source) Observe(o director.Observer) director.Observer {
	return observers{o, s}
}

type observers []director.Observer

func (os observers) Synced(r director.SyncReport) {
	for _, o := range os {
		if o != nil {
			o.Synced(r)
		}
	}
}
