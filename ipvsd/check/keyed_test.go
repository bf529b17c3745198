package check

import (
	"slices"
	"testing"
)

func TestSetKeyedIsSetWithTheKeysGiven(t *testing.T) {
	defs := []Definition{tcpDef(1), tcpDef(2), tcpDef(1)}
	keys := []Key{defs[0].Key(), defs[1].Key(), defs[2].Key()}
	s := NewScheduler(Options{})
	if err := s.SetKeyed(defs, keys); err != nil {
		t.Fatal(err)
	}
	var got []Key
	for _, st := range s.Statuses() {
		got = append(got, st.Key)
	}
	slices.Sort(got)
	want := slices.Compact(slices.Sorted(slices.Values(keys)))
	if !slices.Equal(got, want) {
		t.Errorf("checks %v, want %v", got, want)
	}
	if err := s.SetKeyed(defs, keys[:1]); err == nil {
		t.Error("SetKeyed took 1 key for 3 definitions")
	}
	if n := len(s.Statuses()); n != 2 {
		t.Errorf("%d checks after a refused SetKeyed, want the 2 before", n)
	}
}
