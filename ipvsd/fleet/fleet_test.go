package fleet

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs/ipvsd/fleet/etcdtest"
)

// TestFleetStatusDisagreementsAndBehind: fleet status names the real
// servers the directors disagree on, and the directors whose table is
// behind the configuration.
func TestFleetStatusDisagreementsAndBehind(t *testing.T) {
	e := etcdtest.New(t)
	cli := client(t, e)
	l := testLayout(t)
	w := &Writer{Client: cli, Layout: l}
	apply(t, w, file(vsYAML("web", 80, "")))
	a := run(t, cli, t.TempDir(), "a", nil)
	b := run(t, cli, t.TempDir(), "b", nil)
	a.d.mu.Lock()
	a.d.health["web/10.0.0.2:80"] = "down"
	a.d.mu.Unlock()
	ctx := context.Background()
	var f *Fleet
	eventually(t, "the disagreement on web 10.0.0.2:80", 10*time.Second, func() bool {
		var err error
		f, err = ReadFleet(ctx, cli, l)
		return err == nil && len(f.Disagreements) == 1
	})
	dg := f.Disagreements[0]
	if dg.VirtualServer != "web" || dg.RealServer != "10.0.0.2:80" || strings.Join(dg.Down, ",") != "a" || strings.Join(dg.Up, ",") != "b" {
		t.Errorf("disagreement: %+v", dg)
	}
	var text strings.Builder
	if err := f.WriteText(&text, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"disagree on web 10.0.0.2:80: down on a; up on b", "DIRECTOR", "\na ", "\nb "} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("fleet status lacks %q:\n%s", want, text.String())
		}
	}
	// The fake directors never sync: their tables stay at the revision
	// they started with, behind a change.
	apply(t, w, file(vsYAML("web", 81, "")))
	eventually(t, "both behind", 10*time.Second, func() bool {
		f, err := ReadFleet(ctx, cli, l)
		return err == nil && len(f.Directors) == 2 && f.Directors[0].Behind && f.Directors[1].Behind
	})
	// A sync that applies whole brings a director current, once the
	// change is in force there: a sync before its watch delivered the
	// change applied the old revision, and these directors sync no more.
	eventually(t, "the change in force on a", 10*time.Second, func() bool {
		a.d.mu.Lock()
		defer a.d.mu.Unlock()
		return len(a.d.applied) == 2
	})
	a.s.Synced(directorSync(time.Now()))
	eventually(t, "a current", 10*time.Second, func() bool {
		f, err := ReadFleet(ctx, cli, l)
		return err == nil && len(f.Directors) == 2 && !f.Directors[0].Behind && f.Directors[1].Behind
	})
	_ = b
}
