package reconcile

import (
	"testing"

	"github.com/ipvs-go/ipvs"
)

// TestPlanBorrowsUntilChanges pins the contract of Plan's doc: until its
// Changes are made, a plan writes the rows of the caller's tables as they
// are when it sends them; from the first call of Changes, it writes those
// Changes and no longer reads the tables, which the caller may reuse.
func TestPlanBorrowsUntilChanges(t *testing.T) {
	weightApplied := func(t *testing.T, p *Plan) uint32 {
		t.Helper()
		got, err := applyToTable(nil, p)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || len(got[0].Destinations) != 1 {
			t.Fatalf("table applied: %v", got)
		}
		return got[0].Destinations[0].Weight
	}
	newDesired := func() []ipvs.VirtualServer {
		return []ipvs.VirtualServer{vs(tcp("10.0.0.1", 80), dst("10.1.0.1:80", 1))}
	}

	t.Run("borrowed", func(t *testing.T) {
		desired := newDesired()
		p := mustCompute(t, nil, desired, Options{})
		desired[0].Destinations[0].Weight = 5
		if w := weightApplied(t, p); w != 5 {
			t.Errorf("Apply before Changes wrote weight %d; want the row as it is when sent, 5", w)
		}
		if w := p.Changes()[1].Destination.Weight; w != 5 {
			t.Errorf("Changes made after the row changed: weight %d, want 5", w)
		}
	})

	t.Run("detached", func(t *testing.T) {
		desired := newDesired()
		p := mustCompute(t, nil, desired, Options{})
		before := lines(p)
		// The caller reuses its table, as a buffer for the next plan: its
		// rows changed, then zeroed.
		desired[0].Destinations[0].Weight = 9
		clear(desired[0].Destinations)
		clear(desired)
		if after := lines(p); len(after) != len(before) || after[0] != before[0] || after[1] != before[1] {
			t.Errorf("Changes after the table changed:\n%v\nwant as made:\n%v", after, before)
		}
		if w := weightApplied(t, p); w != 1 {
			t.Errorf("Apply after Changes wrote weight %d; want the Changes' 1", w)
		}
	})
}
