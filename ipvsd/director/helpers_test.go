package director

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/ipvstest"
)

// fakeChecks stands for the check scheduler: a test sets the health of
// the checks of a target, and the director reads it.
type fakeChecks struct {
	mu     sync.Mutex
	defs   map[check.Key]check.Definition
	st     map[check.Key]check.Status
	sets   int // calls of Set that succeeded
	setErr error
	ch     chan struct{}
	gen    uint64
}

func newFakeChecks() *fakeChecks {
	return &fakeChecks{defs: map[check.Key]check.Definition{}, st: map[check.Key]check.Status{}, ch: make(chan struct{}, 1)}
}

func (f *fakeChecks) Set(defs []check.Definition) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.setErr != nil {
		return f.setErr
	}
	next := map[check.Key]check.Definition{}
	for _, d := range defs {
		next[d.Key()] = d
	}
	for k := range f.st {
		if _, ok := next[k]; !ok {
			delete(f.st, k)
		}
	}
	f.defs = next
	f.sets++
	return nil
}

func (f *fakeChecks) Statuses() []check.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []check.Status
	for _, st := range f.st {
		out = append(out, st)
	}
	return out
}

func (f *fakeChecks) Changes() <-chan struct{} { return f.ch }
func (f *fakeChecks) LastTick() time.Time      { return time.Now() }

// setHealth sets the health of every check of the target addr (and
// the dynamic weight, if w >= 0).
func (f *fakeChecks) setHealth(t testing.TB, addr string, h check.Health, w int) {
	t.Helper()
	target := netip.MustParseAddrPort(addr)
	f.mu.Lock()
	n := 0
	for k, d := range f.defs {
		if d.Target != target {
			continue
		}
		n++
		f.gen++
		st := f.st[k]
		st.Key, st.Kind, st.Health, st.Changed = k, d.Kind, h, f.gen
		st.Weight, st.HasWeight = max(w, 0), w >= 0
		st.Last = check.Result{Time: time.Now()}
		if h == check.Down {
			st.Last.Err = fmt.Errorf("connection refused")
		}
		f.st[k] = st
	}
	f.mu.Unlock()
	if n == 0 {
		t.Fatalf("no check of %s", addr)
	}
	select {
	case f.ch <- struct{}{}:
	default:
	}
}

// setAll sets the health of every check to what health returns for its
// definition, but for check.Unknown, which leaves it as it is.
func (f *fakeChecks) setAll(health func(check.Definition) check.Health) {
	f.mu.Lock()
	for k, d := range f.defs {
		h := health(d)
		if h == check.Unknown {
			continue
		}
		f.gen++
		st := f.st[k]
		st.Key, st.Kind, st.Health, st.Changed = k, d.Kind, h, f.gen
		f.st[k] = st
	}
	f.mu.Unlock()
	select {
	case f.ch <- struct{}{}:
	default:
	}
}

// recordedHooks records the hooks run.
type recordedHooks struct {
	mu  sync.Mutex
	ran []string
}

func (r *recordedHooks) Run(h Hook) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rs string
	for _, e := range h.Env {
		if v, ok := strings.CutPrefix(e, "IPVSD_REAL_SERVER="); ok {
			rs = " " + v
		}
		if v, ok := strings.CutPrefix(e, "IPVSD_VIRTUAL_SERVER="); ok && rs == "" {
			rs = " " + v
		}
	}
	r.ran = append(r.ran, h.Event+rs)
}

func (r *recordedHooks) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ran
	r.ran = nil
	return out
}

// rig is a director on an in-memory IPVS, with fake checks, a clock the
// test moves, and recorded hooks.
type rig struct {
	t      testing.TB
	fake   *ipvstest.Fake
	client *ipvs.Client
	checks *fakeChecks
	hooks  *recordedHooks
	store  *Store
	d      *Director
	clock  time.Time
}

func newRig(t testing.TB, yaml string) *rig {
	t.Helper()
	f := ipvstest.NewFake()
	r := &rig{t: t, fake: f, client: f.Client(t), store: NewMemoryStore(), clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r.restart()
	r.apply(yaml)
	return r
}

// restart makes a new director on the same table and store, as a
// restart of the daemon does; the checks start over.
func (r *rig) restart() {
	r.checks, r.hooks = newFakeChecks(), &recordedHooks{}
	r.d = New(Options{Client: r.client, Checks: r.checks, Store: r.store, Hooks: r.hooks})
	r.d.now = func() time.Time { return r.clock }
}

func (r *rig) apply(yaml string) {
	r.t.Helper()
	if err := r.d.Apply(mustConfig(r.t, yaml)); err != nil {
		r.t.Fatal(err)
	}
}

func mustConfig(t testing.TB, yaml string) *config.Config {
	t.Helper()
	c, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sync runs one sync a sync interval after the last, and returns its
// report.
func (r *rig) sync() SyncReport {
	r.t.Helper()
	var got SyncReport
	r.d.observer = observerFunc(func(s SyncReport) { got = s })
	r.clock = r.clock.Add(time.Hour)
	r.d.syncOnce(context.Background())
	if got.Err != nil {
		r.t.Fatalf("sync: %v", got.Err)
	}
	return got
}

type observerFunc func(SyncReport)

func (f observerFunc) Synced(s SyncReport) { f(s) }

// table returns the in-memory table as "SERVICE: DEST/WEIGHT ..." lines.
func (r *rig) table() string {
	var lines []string
	for _, vs := range r.fake.VirtualServers() {
		var ds []string
		for _, d := range vs.Destinations {
			ds = append(ds, fmt.Sprintf("%s/%d", d, d.Weight))
		}
		slices.Sort(ds)
		lines = append(lines, vs.Service.String()+": "+strings.Join(ds, " "))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func (r *rig) wantTable(want string) {
	r.t.Helper()
	if got := r.table(); got != strings.TrimSpace(want) {
		r.t.Fatalf("table:\n%s\nwant:\n%s", got, strings.TrimSpace(want))
	}
}

// changes returns the changes of a report, one a line.
func changes(r SyncReport) []string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.String())
	}
	return out
}
