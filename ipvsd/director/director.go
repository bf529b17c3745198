package director

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/reconcile"
)

// Checker runs the checks of the real servers, as a *check.Scheduler
// does: Set replaces the checks (those whose Key is unchanged keep their
// state), Changes signals that some changed, Statuses says how each is.
type Checker interface {
	Set(defs []check.Definition) error
	Statuses() []check.Status
	Changes() <-chan struct{}
	LastTick() time.Time
}

// keyedChecker is a Checker that takes the definitions' Keys with them,
// as a *check.Scheduler does, rather than compute them again.
type keyedChecker interface {
	SetKeyed(defs []check.Definition, keys []check.Key) error
}

// Options configure a Director.
type Options struct {
	// Client is the IPVS table the director manages.
	Client *ipvs.Client
	// Checks runs the checks; the daemon gives its *check.Scheduler.
	Checks Checker
	// Store keeps what must survive a restart; nil keeps it in memory.
	Store *Store
	// Logger logs what the director does; nil discards.
	Logger *slog.Logger
	// Hooks runs the hooks (quorum_up, notify_down, ...); nil runs them
	// as processes (ExecHooks).
	Hooks HookRunner
	// Observer hears of syncs and writes, for metrics; nil hears none.
	Observer Observer
}

// Director converges an IPVS table to a configuration and the health of
// its real servers. Apply gives it a configuration (at start and at each
// reload); Run runs its loop.
type Director struct {
	client   *ipvs.Client
	checks   Checker
	store    *Store
	log      *slog.Logger
	hooks    HookRunner
	observer Observer
	now      func() time.Time
	dirty    chan struct{}
	loopTick atomic.Int64 // UnixNano of the loop's last turn
	syncing  atomic.Int64 // UnixNano of the start of the sync in progress, or 0

	// owned maps the identity of every service the director may write
	// to the policy of what it retires; reconcile asks it from its sync,
	// without mu.
	owned atomic.Pointer[map[string]reconcile.DrainPolicy]

	// syncMu makes syncs and plans run one at a time.
	syncMu sync.Mutex

	mu       sync.Mutex
	cfg      *config.Config
	node     string
	rec      *reconcile.Reconciler
	drainFor time.Duration // the rec's DrainTimeout
	vss      []*vsRuntime
	byName   map[string]*vsRuntime
	// prior holds, by service identity, how each real server was last
	// known: in the table at start-up, then in what was last desired.
	prior    map[string]map[netip.AddrPort]known
	seeded   bool                 // prior was read from the table
	desired  []ipvs.VirtualServer // from the last refresh
	applied  []ipvs.VirtualServer // the desired table of the last sync that applied whole
	pending  bool                 // desired differs from applied
	known    bool                 // the last sync applied whole: the table is applied
	lastSync syncRecord
}

// vsRuntime is a virtual server in force and what the director keeps of
// it between refreshes.
type vsRuntime struct {
	cfg    *config.VirtualServer
	name   string
	id     string // the service's identity, as ipvs.Service.String
	source string // "file" or "api"
	keys   [][]check.Key
	names  map[check.Key]string // each check in a few words
	admins []AdminState
	// healths are the real servers' health at the last refresh, known
	// once refreshed.
	healths   []health
	refreshed bool
	quorumUp  bool
	last      desired
}

// New returns a Director with no configuration; Apply gives it one.
func New(opts Options) *Director {
	d := &Director{
		client:   opts.Client,
		checks:   opts.Checks,
		store:    opts.Store,
		log:      opts.Logger,
		hooks:    opts.Hooks,
		observer: opts.Observer,
		now:      time.Now,
		dirty:    make(chan struct{}, 1),
		byName:   map[string]*vsRuntime{},
		prior:    map[string]map[netip.AddrPort]known{},
	}
	if d.store == nil {
		d.store = NewMemoryStore()
	}
	if d.log == nil {
		d.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.observer == nil {
		d.observer = nopObserver{}
	}
	if d.hooks == nil {
		d.hooks = &ExecHooks{Logger: d.log}
	}
	empty := map[string]reconcile.DrainPolicy{}
	d.owned.Store(&empty)
	return d
}

// Apply puts cfg in force, with the virtual servers changed through the
// API over it: the checks of real servers whose definition is unchanged
// keep their state, and the next sync applies the difference. On an
// error, nothing changes.
func (d *Director) Apply(cfg *config.Config) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.applyLocked(cfg, d.store.snapshot())
}

// applyLocked is Apply with the store's state st; d.mu is held.
func (d *Director) applyLocked(cfg *config.Config, st storeData) error {
	node := cfg.Director.Node
	if node == "" {
		node, _ = os.Hostname()
	}
	set, warnings, err := compose(cfg, st, node)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		d.log.Warn("ignoring a virtual server changed through the API", "err", w)
	}
	// The real servers of a configuration share their definitions where
	// their checks are the same: each is keyed, named and given to the
	// checks once, and the real servers share its Key's string.
	var defs []check.Definition
	var defKeys []check.Key
	keyOf := map[*check.Definition]check.Key{}
	names := map[check.Key]string{}
	vss := make([]*vsRuntime, len(set))
	for i, c := range set {
		vs := c.vs
		bs := vs.Backends()
		rt := &vsRuntime{cfg: vs, name: vs.DisplayName(), id: vs.Service().String(), source: c.source, quorumUp: true,
			names: names, keys: make([][]check.Key, len(bs)), admins: make([]AdminState, len(bs))}
		for j, b := range bs {
			keys := make([]check.Key, len(b.Checks))
			for n, def := range b.Checks {
				k, ok := keyOf[def]
				if !ok {
					k = def.Key()
					keyOf[def] = k
					if _, twice := names[k]; !twice {
						names[k] = def.String()
						defs = append(defs, *def)
						defKeys = append(defKeys, k)
					}
				}
				keys[n] = k
			}
			rt.keys[j] = keys
			rt.admins[j] = st.Admin[rt.name][addrPort(b.Destination).String()]
		}
		if old := d.byName[rt.name]; old != nil && old.id == rt.id {
			rt.quorumUp = old.quorumUp
			rt.carryHealth(old)
		}
		vss[i] = rt
	}
	if kc, ok := d.checks.(keyedChecker); ok {
		err = kc.SetKeyed(defs, defKeys)
	} else {
		err = d.checks.Set(defs)
	}
	if err != nil {
		return err
	}
	d.cfg, d.node, d.vss = cfg, node, vss
	d.byName = make(map[string]*vsRuntime, len(vss))
	for _, rt := range vss {
		d.byName[rt.name] = rt
	}
	if limit := cfg.Director.DrainLimit(); d.rec == nil || limit != d.drainFor {
		// A new Reconciler forgets when drains began: they may last
		// longer, never shorter.
		d.rec = reconcile.NewReconciler(d.client, reconcile.Options{Owns: d.owns, Drain: d.drainPolicy, DrainTimeout: limit})
		d.drainFor = limit
	}
	d.setOwned(st.Owned)
	d.markDirty()
	return nil
}

// carryHealth takes the health of the real servers old had, so that
// their hooks run only on a change.
func (rt *vsRuntime) carryHealth(old *vsRuntime) {
	if !old.refreshed {
		return
	}
	was := make(map[netip.AddrPort]health, len(old.healths))
	for i, b := range old.cfg.Backends() {
		was[addrPort(b.Destination)] = old.healths[i]
	}
	rt.healths = make([]health, len(rt.cfg.Backends()))
	for i, b := range rt.cfg.Backends() {
		rt.healths[i] = was[addrPort(b.Destination)]
	}
	rt.refreshed = true
}

// setOwned makes the services the director may write those of its
// virtual servers and those of the store's list; d.mu is held.
func (d *Director) setOwned(stored []string) {
	m := make(map[string]reconcile.DrainPolicy, len(d.vss)+len(stored))
	for _, id := range stored {
		m[id] = reconcile.DrainPolicyByProtocol
	}
	for _, rt := range d.vss {
		m[rt.id] = drainPolicyOf(rt.cfg.FailurePolicy())
	}
	d.owned.Store(&m)
}

// drainPolicyOf is reconcile's policy for a real server a virtual
// server retires: inhibit keeps failed ones itself, and drains the ones
// it no longer has.
func drainPolicyOf(p config.Policy) reconcile.DrainPolicy {
	if p == config.PolicyRemove {
		return reconcile.DrainPolicyRemoveAtOnce
	}
	return reconcile.DrainPolicyGracefully
}

// owns reports whether the director may write the service.
func (d *Director) owns(svc ipvs.Service) bool {
	_, ok := (*d.owned.Load())[svc.String()]
	return ok
}

// drainPolicy is the policy for the real servers a service retires.
func (d *Director) drainPolicy(svc ipvs.Service) reconcile.DrainPolicy {
	return (*d.owned.Load())[svc.String()]
}

// markDirty wakes the loop to refresh.
func (d *Director) markDirty() {
	select {
	case d.dirty <- struct{}{}:
	default:
	}
}

// addrPort is the identity of a destination within its service.
func addrPort(dst ipvs.Destination) netip.AddrPort {
	return netip.AddrPortFrom(dst.Address.Unmap(), dst.Port)
}

// composed is a virtual server in force and where it comes from.
type composed struct {
	vs     *config.VirtualServer
	source string
}

// compose returns the virtual servers in force: the file's, with the
// API's changes over them, those that select node; warnings name the
// API's changes that no longer parse. Two with one identity are an
// error.
func compose(cfg *config.Config, st storeData, node string) ([]composed, []error, error) {
	var out []composed
	var warnings []error
	for i := range cfg.VirtualServers {
		vs := &cfg.VirtualServers[i]
		if _, changed := st.VirtualServers[vs.DisplayName()]; !changed {
			out = append(out, composed{vs, "file"})
		}
	}
	for _, name := range sortedKeys(st.VirtualServers) {
		o := st.VirtualServers[name]
		if o.Deleted {
			continue
		}
		vs, err := config.ParseVirtualServer("virtual server "+name+" of the state", []byte(o.Spec))
		if err != nil {
			warnings = append(warnings, err)
			continue
		}
		vs.Name = name
		out = append(out, composed{vs, "api"})
	}
	selected := out[:0]
	ids := map[string]composed{}
	for _, c := range out {
		if !c.vs.Selects(node, cfg.Director.Labels) {
			continue
		}
		id := c.vs.Service().String()
		if other, twice := ids[id]; twice {
			return nil, nil, fmt.Errorf("virtual servers %q (%s) and %q (%s) are both %s: %w", other.vs.DisplayName(), other.source, c.vs.DisplayName(), c.source, id, ErrConflict)
		}
		ids[id] = c
		selected = append(selected, c)
	}
	return selected, warnings, nil
}
