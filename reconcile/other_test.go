package reconcile

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
)

func TestDiff(t *testing.T) {
	a, b := tcp("10.0.0.1", 80), udp("10.0.0.2", 53)
	prev := readBack([]ipvs.VirtualServer{
		vs(a, dst("10.1.0.1:80", 1), dst("10.1.0.2:80", 1)),
		vs(b, dst("10.1.0.1:53", 1)),
	})
	a2 := a
	a2.Scheduler = "wlc"
	next := readBack([]ipvs.VirtualServer{
		vs(a2, conns(dst("10.1.0.1:80", 0), 4, 4, 0), dst("10.1.0.3:80", 1)),
		vs(tcp("10.0.0.3", 80), dst("10.1.0.1:80", 1)),
	})
	var got []string
	for _, e := range Diff(prev, next) {
		got = append(got, e.String())
	}
	want := []string{
		`service changed tcp 10.0.0.1:80: scheduler "rr" -> "wlc"`,
		"destination changed 10.1.0.1:80 of tcp 10.0.0.1:80: weight 1 -> 0",
		"destination added 10.1.0.3:80 of tcp 10.0.0.1:80",
		"destination removed 10.1.0.2:80 of tcp 10.0.0.1:80",
		"service added tcp 10.0.0.3:80",
		"destination added 10.1.0.1:80 of tcp 10.0.0.3:80",
		"destination removed 10.1.0.1:53 of udp 10.0.0.2:53",
		"service removed udp 10.0.0.2:53",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Diff:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Counters and connection counts alone are no differences.
	again := readBack(next)
	again[0].Destinations[0] = conns(again[0].Destinations[0], 0, 0, 9)
	if d := Diff(next, again); len(d) != 0 {
		t.Errorf("Diff of counters: %v", d)
	}
}

func TestAdvise(t *testing.T) {
	persistent := tcp("10.0.0.1", 80)
	persistent.Flags, persistent.Timeout = ipvs.FlagPersistent, time.Minute
	current := readBack([]ipvs.VirtualServer{
		vs(udp("10.0.0.2", 53), dst("10.1.0.1:53", 1), dst("10.1.0.2:53", 1)),
		vs(persistent, conns(dst("10.1.0.1:80", 1), 1, 0, 1)),
	})
	desired := []ipvs.VirtualServer{vs(udp("10.0.0.2", 53)), vs(persistent)}
	p := mustCompute(t, current, desired, Options{})
	var got []string
	for _, a := range advise(p, &ipvs.Sysctls{}) {
		got = append(got, a.Sysctl)
	}
	if want := []string{"expire_nodest_conn", "conn_reuse_mode", "expire_quiescent_template"}; !slices.Equal(got, want) {
		t.Errorf("advisories %v, want %v", got, want)
	}
	if a := advise(p, &ipvs.Sysctls{})[0].String(); !strings.Contains(a, "10.1.0.1:53 of udp 10.0.0.2:53 and 1 more") {
		t.Errorf("advisory %q names no example", a)
	}
	if a := advise(p, &ipvs.Sysctls{ExpireNodestConn: true, ExpireQuiescentTemplate: true, ConnReuseMode: 1}); len(a) != 0 {
		t.Errorf("advisories under helpful settings: %v", a)
	}
	if a := advise(mustCompute(t, current, current, Options{}), &ipvs.Sysctls{}); len(a) != 0 {
		t.Errorf("advisories of an empty plan: %v", a)
	}
	if a := advise(p, &ipvs.Sysctls{Absent: []string{"expire_nodest_conn", "conn_reuse_mode", "expire_quiescent_template"}}); len(a) != 0 {
		t.Errorf("advisories on sysctls the kernel lacks: %v", a)
	}
	// Compute advises from Options.Sysctls, and only then.
	if p := mustCompute(t, current, desired, Options{Sysctls: &ipvs.Sysctls{ConnReuseMode: 1, ExpireQuiescentTemplate: true}}); len(p.Advisories()) != 1 ||
		!strings.Contains(p.String(), "# advisory: expire_nodest_conn=0: ") {
		t.Errorf("plan with sysctls:\n%s", p)
	}
	if len(p.Advisories()) != 0 {
		t.Errorf("advisories without sysctls: %v", p.Advisories())
	}
}

// TestApplyOutcome: each refused write becomes a ChangeError naming its
// change, matchable as the kernel's answer.
func TestApplyOutcome(t *testing.T) {
	p := mustCompute(t, nil, []ipvs.VirtualServer{vs(tcp("10.0.0.1", 80), dst("10.1.0.1:80", 1), dst("10.1.0.2:80", 1))}, Options{})
	exists := &ipvs.Error{Op: "create destination", Err: os.ErrExist}
	results := []error{nil, exists, nil}
	for _, libErr := range []error{nil, &ipvs.BatchError{Failed: 1, Total: 3, Results: results}} {
		err := p.outcome(results, libErr)
		var ce *ChangeError
		if !errors.As(err, &ce) || ce.Change.Destination.Address != netip.MustParseAddr("10.1.0.1") || !errors.Is(err, os.ErrExist) {
			t.Errorf("outcome %v", err)
		}
		if strings.Count(err.Error(), "create destination") != 1 || !strings.HasSuffix(err.Error(), ": file already exists") {
			t.Errorf("outcome %q: want the change once, then the cause", err)
		}
	}
	if err := p.outcome([]error{nil, nil, nil}, nil); err != nil {
		t.Errorf("outcome of success: %v", err)
	}
	ended := errors.New("socket closed")
	unsent := []error{nil, ipvs.ErrNotSent, ipvs.ErrNotSent}
	for _, libErr := range []error{ended, &ipvs.BatchError{Failed: 2, Total: 3, Cause: ended, Results: unsent}} {
		if err := p.outcome(unsent, libErr); !errors.Is(err, ended) || !errors.Is(err, ipvs.ErrNotSent) || strings.Count(err.Error(), "socket closed") != 1 {
			t.Errorf("outcome of a batch ended early: %v", err)
		}
	}
}

// TestReconcilerDrainMemory: the clock of a drain starts when the table
// shows the destination at weight 0, a restart starts it anew, and a
// destination desired again leaves the memory.
func TestReconcilerDrainMemory(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewReconciler(nil, Options{DrainTimeout: time.Minute})
	r.clock = func() time.Time { return now }
	svc := tcp("10.0.0.1", 80)
	keep := dst("10.1.0.1:80", 1)
	table := readBack([]ipvs.VirtualServer{vs(svc, keep, conns(dst("10.1.0.2:80", 1), 2, 0, 0))})
	desired := []ipvs.VirtualServer{vs(svc, keep)}
	step := func(want Kind) {
		t.Helper()
		p, err := r.planTable(table, desired)
		if err != nil {
			t.Fatal(err)
		}
		var got Kind
		if cs := p.Changes(); len(cs) > 0 {
			got = cs[0].Kind
		}
		if got != want {
			t.Fatalf("at %s: plan\n%swant %v", now.Format(time.TimeOnly), p, want)
		}
		if table, err = applyToTable(table, p.Changes()); err != nil {
			t.Fatal(err)
		}
	}
	step(KindDrainDestination) // weight 1 -> 0; its clock has not started
	now = now.Add(2 * time.Minute)
	step(0) // read at weight 0: the clock starts
	now = now.Add(59 * time.Second)
	step(0)
	r2 := NewReconciler(nil, r.opts) // a restart: the clock starts anew
	r2.clock = r.clock
	r = r2
	now = now.Add(time.Second)
	step(0)
	now = now.Add(time.Minute)
	step(KindRemoveDestination)
	if len(r.since) != 0 {
		t.Errorf("memory after the drain: %v", r.since)
	}
}

// TestConvergeProperty: for random desired tables, applying the plan and
// planning again yields an empty plan, from random tables.
func TestConvergeProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var table []ipvs.VirtualServer
	for range 300 {
		desired := randomTable(rng)
		p := mustCompute(t, table, desired, Options{})
		next, err := applyToTable(table, p.Changes())
		if err != nil {
			t.Fatalf("%v\nplan:\n%s", err, p)
		}
		if p2 := mustCompute(t, next, desired, Options{}); !p2.Empty() {
			t.Fatalf("plan after applying:\n%s\nfirst plan:\n%s", p2, p)
		}
		table = next
	}
}
