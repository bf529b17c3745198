package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ipvs-go/ipvs/ipvsd/fleet/etcdtest"
)

func TestApplyReachesEveryDirectorItSelects(t *testing.T) {
	e := etcdtest.New(t)
	cli := client(t, e)
	w := &Writer{Client: cli, Layout: testLayout(t)}
	apply(t, w, file(vsYAML("web", 80, ""), vsYAML("edge", 81, "    node_selector: {site: edge}\n"), vsYAML("a-only", 82, "    nodes: [a]\n")))
	a := run(t, cli, t.TempDir(), "a", nil)
	b := run(t, cli, t.TempDir(), "b", map[string]string{"site": "edge"})
	if got := a.d.names(); got != "a-only:82 web:80" {
		t.Errorf("a has %s", got)
	}
	if got := b.d.names(); got != "edge:81 web:80" {
		t.Errorf("b has %s", got)
	}
	na, nb := a.d.count(), b.d.count()
	// One key that selects b alone: b puts it in force, a does nothing.
	apply(t, w, file(vsYAML("web", 80, ""), vsYAML("edge", 91, "    node_selector: {site: edge}\n"), vsYAML("a-only", 82, "    nodes: [a]\n")))
	eventually(t, "b has the change", 10*time.Second, func() bool { return b.d.names() == "edge:91 web:80" })
	eventually(t, "a reads the revision", 10*time.Second, func() bool { return a.s.Status().Revision == b.s.Status().Revision })
	if a.d.count() != na {
		t.Errorf("a put a configuration in force %d times for a change that does not select it", a.d.count()-na)
	}
	if b.d.count() != nb+1 {
		t.Errorf("b put a configuration in force %d times for one change", b.d.count()-nb)
	}
	// a's state says it is current without a sync: its table needs none.
	if st := a.s.Status(); st.InForce != st.Revision {
		t.Errorf("a: revision %d read, %d in force", st.Revision, st.InForce)
	}
}

func TestConcurrentAppliesOneWinsTheOtherIsTold(t *testing.T) {
	e := etcdtest.New(t)
	cli := client(t, e)
	w := &Writer{Client: cli, Layout: testLayout(t)}
	apply(t, w, file(vsYAML("web", 80, "")))
	ctx := context.Background()
	plan := func(yaml string) *Plan {
		d, err := Split("x.yaml", []byte(yaml))
		if err != nil {
			t.Fatal(err)
		}
		p, err := w.Plan(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Both read the same revision.
	one := plan(file(vsYAML("web", 8001, "")))
	two := plan(file(vsYAML("web", 8002, ""), vsYAML("api", 90, "")))
	if _, err := w.Apply(ctx, one, false); err != nil {
		t.Fatal(err)
	}
	_, err := w.Apply(ctx, two, false)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("the second apply: %v, want a conflict", err)
	}
	if !strings.Contains(err.Error(), "config/virtual-servers/web") {
		t.Errorf("the conflict does not name the key that changed: %v", err)
	}
	resp, err := cli.Get(ctx, w.Layout.VirtualServer("api"))
	if err != nil || len(resp.Kvs) != 0 {
		t.Errorf("the refused apply wrote api: %v %v", resp, err)
	}
	// A key deleted by other means after the read is a conflict too for
	// an apply that updates it.
	three := plan(file(vsYAML("web", 8003, "")))
	if _, err := cli.Delete(ctx, w.Layout.VirtualServer("web")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Apply(ctx, three, false); !errors.Is(err, ErrConflict) {
		t.Fatalf("an apply over a key deleted since its read: %v, want a conflict", err)
	}
}

func TestApplyEmptyNeedsTheFlag(t *testing.T) {
	e := etcdtest.New(t)
	cli := client(t, e)
	w := &Writer{Client: cli, Layout: testLayout(t)}
	apply(t, w, file(vsYAML("web", 80, "")))
	d, err := Split("empty.yaml", []byte("virtual_servers: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.Plan(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Apply(context.Background(), p, false); !errors.Is(err, ErrEmpty) {
		t.Fatalf("got %v, want ErrEmpty", err)
	}
}

func TestLargeApplyInTransactionsIsPutInForceWhole(t *testing.T) {
	e := etcdtest.New(t)
	cli := client(t, e)
	w := &Writer{Client: cli, Layout: testLayout(t), MaxOps: 8}
	a := run(t, cli, t.TempDir(), "a", nil)
	var vss []string
	for i := range 40 {
		vss = append(vss, vsYAML("vs"+string(rune('a'+i/26))+string(rune('a'+i%26)), 1000+i, ""))
	}
	before := a.d.count()
	r := apply(t, w, file(vss...))
	if r.Transactions < 5 {
		t.Fatalf("%d transactions for 40 keys at 8 operations each", r.Transactions)
	}
	eventually(t, "a has all 40", 10*time.Second, func() bool { return len(strings.Fields(a.d.names())) == 40 })
	// Each configuration a put in force had all or none of them.
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	for _, cfg := range a.d.applied[before:] {
		if n := len(cfg.VirtualServers); n != 0 && n != 40 {
			t.Errorf("a put %d of the 40 in force", n)
		}
	}
}

func TestInvalidKeyIsRefusedAndTheLastGoodStays(t *testing.T) {
	e := etcdtest.New(t)
	cli := client(t, e)
	w := &Writer{Client: cli, Layout: testLayout(t)}
	apply(t, w, file(vsYAML("web", 80, "")))
	a := run(t, cli, t.TempDir(), "a", nil)
	ctx := context.Background()
	bad := map[string]string{
		"web":       "name: web\naddress: 192.0.2.10\nport: 80\nlvs_sched: nope\nreal_servers: []\n",
		"new":       "{not yaml",
		"misnamed":  "name: other\naddress: 192.0.2.11\nport: 80\nreal_servers: []\n",
		"bad name!": "address: 192.0.2.12\nport: 80\nreal_servers: []\n",
	}
	for name, v := range bad {
		if _, err := cli.Put(ctx, w.Layout.VirtualServer(name), v); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the keys are refused", 10*time.Second, func() bool { return len(a.s.Status().InvalidKeys) == 3 })
	if got := a.d.names(); got != "web:80" {
		t.Errorf("in force: %s", got)
	}
	for _, k := range a.s.Status().InvalidKeys {
		if !strings.Contains(k.Error, k.Key[strings.LastIndex(k.Key, "/")+1:]) {
			t.Errorf("%s: %s does not name the key", k.Key, k.Error)
		}
	}
	// The state written to etcd says so; fleet status too.
	eventually(t, "the director's state names the keys refused", 10*time.Second, func() bool {
		f, err := ReadFleet(ctx, cli, w.Layout)
		return err == nil && len(f.Directors) == 1 && len(f.Directors[0].Errors) >= 3 && len(f.InvalidKeys) == 3
	})
	// A director that starts now reads the same and applies the good.
	b := run(t, cli, t.TempDir(), "b", nil)
	if got := b.d.names(); got != "<none>" && got != "" {
		t.Errorf("b, started on a bad key without a good value, has %q", got)
	}
	// Fixing the key puts it in force.
	if _, err := cli.Put(ctx, w.Layout.VirtualServer("web"), "name: web\naddress: 192.0.2.10\nport: 8080\nlvs_sched: rr\nreal_servers: []\n"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a has the fixed key", 10*time.Second, func() bool { return a.d.names() == "web:8080" })
	eventually(t, "b has the fixed key", 10*time.Second, func() bool { return b.d.names() == "web:8080" })
}

func TestRefusedConfigurationKeepsTheLastGood(t *testing.T) {
	e := etcdtest.New(t)
	cli := client(t, e)
	w := &Writer{Client: cli, Layout: testLayout(t)}
	apply(t, w, file(vsYAML("web", 80, "")))
	a := run(t, cli, t.TempDir(), "a", nil)
	a.d.mu.Lock()
	a.d.refuse = errors.New("no")
	a.d.mu.Unlock()
	apply(t, w, file(vsYAML("web", 81, "")))
	eventually(t, "the refusal is reported", 10*time.Second, func() bool { return a.s.Status().ApplyError != "" })
	if st := a.s.Status(); st.InForce == st.Revision {
		t.Errorf("revision %d counted in force, though refused", st.Revision)
	}
}

// TestDeadDirectorsStateLeaves: the state is under a lease; a director
// that stops revokes it, one that dies leaves it to expire.
func TestDeadDirectorsStateLeaves(t *testing.T) {
	e := etcdtest.New(t)
	cli := client(t, e)
	l := testLayout(t)
	apply(t, &Writer{Client: cli, Layout: l}, file(vsYAML("web", 80, "")))
	present := func(node string) bool {
		resp, err := cli.Get(context.Background(), l.Director(node))
		return err == nil && len(resp.Kvs) == 1
	}
	a := run(t, cli, t.TempDir(), "a", nil)
	eventually(t, "a's state", 10*time.Second, func() bool { return present("a") })
	a.stop()
	if present("a") {
		t.Error("a stopped, and its state is still there")
	}
	// b's client dies with it: nothing revokes its lease.
	bcli := client(t, e)
	b := run(t, bcli, t.TempDir(), "b", nil)
	eventually(t, "b's state", 10*time.Second, func() bool { return present("b") })
	bcli.Close()
	b.stop()
	if !present("b") {
		t.Fatal("b's state left before its lease expired")
	}
	eventually(t, "b's lease expires", 10*time.Second, func() bool { return !present("b") })
}

// TestReconnectResumesFromTheRevision: etcd killed and restarted; the
// director keeps what it had, says so, and on reconnect takes the
// changes made meanwhile without reading everything again.
func TestReconnectResumesFromTheRevision(t *testing.T) {
	e := etcdtest.New(t)
	cli := client(t, e)
	w := &Writer{Client: cli, Layout: testLayout(t)}
	apply(t, w, file(vsYAML("web", 80, "")))
	a := run(t, cli, t.TempDir(), "a", nil)
	eventually(t, "a is connected", 10*time.Second, func() bool { return a.s.Status().Connected })
	e.Kill()
	eventually(t, "a says etcd is unreachable", 20*time.Second, func() bool { return !a.s.Status().Connected })
	if got := a.d.names(); got != "web:80" {
		t.Errorf("without etcd, a has %s", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	apply(t, w, file(vsYAML("web", 81, "")))
	eventually(t, "a has the change made after the restart", 30*time.Second, func() bool { return a.d.names() == "web:81" })
	eventually(t, "a says etcd is back", 20*time.Second, func() bool { return a.s.Status().Connected })
	if n := counter(t, a.s.stats.fullReads.WithLabelValues("compacted")); n != 0 {
		t.Errorf("%v full reads after a reconnect without compaction", n)
	}
	eventually(t, "a's state is back, with the outage", 20*time.Second, func() bool {
		f, err := ReadFleet(ctx, cli, w.Layout)
		return err == nil && len(f.Directors) == 1 && f.Directors[0].LastOutage != nil
	})
}

// TestCompactionWhileAwayReadsEverything: a director away while its
// revision is compacted reads everything again, and has every change.
func TestCompactionWhileAwayReadsEverything(t *testing.T) {
	e := etcdtest.New(t)
	cli := client(t, e)
	w := &Writer{Client: cli, Layout: testLayout(t)}
	apply(t, w, file(vsYAML("web", 80, ""), vsYAML("old", 81, "")))
	dir := t.TempDir()
	a := run(t, cli, dir, "a", nil)
	eventually(t, "a's local copy", 10*time.Second, func() bool {
		a.s.mu.Lock()
		defer a.s.mu.Unlock()
		return a.s.rev > 0 && a.s.copyRev == a.s.rev
	})
	a.stop()
	// Meanwhile: changes, and their history compacted.
	apply(t, w, file(vsYAML("web", 82, ""), vsYAML("new", 83, "")))
	ctx := context.Background()
	r := apply(t, w, file(vsYAML("web", 84, ""), vsYAML("new", 83, "")))
	if _, err := cli.Compact(ctx, r.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	// a comes back without etcd at first: from its copy; then etcd.
	e.Kill()
	b := run(t, cli, dir, "a", nil)
	if got := b.d.names(); got != "old:81 web:80" {
		t.Fatalf("started from the copy with %s", got)
	}
	if err := e.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a has etcd's state", 30*time.Second, func() bool { return b.d.names() == "new:83 web:84" })
	if n := counter(t, b.s.stats.fullReads.WithLabelValues("compacted")); n != 1 {
		t.Errorf("%v full reads for one compaction", n)
	}
}
