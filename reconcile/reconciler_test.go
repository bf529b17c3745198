package reconcile

import (
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
)

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
		if table, err = applyToTable(table, p); err != nil {
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
