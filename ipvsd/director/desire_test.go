package director

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/ipvstest"
	"github.com/ipvs-go/ipvs/reconcile"
)

// vsOf parses one virtual server with three real servers of weights 1,
// 2 and 3 (10.0.0.1-3:80), each with a tcp check, and the given extra
// fields.
func vsOf(t testing.TB, extra string) *config.VirtualServer {
	t.Helper()
	vs, err := config.ParseVirtualServer("t", []byte(`address: 192.0.2.1
port: 80
checks: [{type: tcp}]
real_servers:
  - {address: 10.0.0.1, weight: 1}
  - {address: 10.0.0.2, weight: 2}
  - {address: 10.0.0.3, weight: 3}
`+extra))
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// dests writes the destinations of a desired virtual server as
// "ADDRESS/WEIGHT ...".
func dests(res desired) string {
	var parts []string
	for _, d := range res.vs.Destinations {
		parts = append(parts, fmt.Sprintf("%s/%d", d.Address, d.Weight))
	}
	return strings.Join(parts, " ")
}

// sortedDests writes the destinations of vs in order.
func sortedDests(vs ipvs.VirtualServer) string {
	parts := strings.Fields(dests(desired{vs: vs}))
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

var (
	up      = health{state: check.Up}
	failed  = health{state: check.Down, why: "tcp check: refused"}
	unknown = health{}
	enabled = []AdminState{0, 0, 0}
)

// TestDesirePolicies: what becomes of failed, drained and disabled real
// servers under each policy, and of dynamic weights.
func TestDesirePolicies(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		hs          []health
		admins      []AdminState
		want        string
	}{
		{"all up", "", []health{up, up, up}, enabled, "10.0.0.1/1 10.0.0.2/2 10.0.0.3/3"},
		{"drain", "on_failure: drain", []health{up, failed, up}, enabled, "10.0.0.1/1 10.0.0.3/3"},
		{"remove", "on_failure: remove", []health{up, failed, up}, enabled, "10.0.0.1/1 10.0.0.3/3"},
		{"inhibit", "on_failure: inhibit", []health{up, failed, up}, enabled, "10.0.0.1/1 10.0.0.2/0 10.0.0.3/3"},
		{"inhibit keepalived's way", "inhibit_on_failure: true", []health{up, failed, up}, enabled, "10.0.0.1/1 10.0.0.2/0 10.0.0.3/3"},
		{"admin drained", "", []health{up, up, up}, []AdminState{AdminDrained, 0, 0}, "10.0.0.1/0 10.0.0.2/2 10.0.0.3/3"},
		{"admin disabled", "", []health{up, up, up}, []AdminState{0, AdminDisabled, 0}, "10.0.0.1/1 10.0.0.3/3"},
		{"drained and failed", "on_failure: inhibit", []health{failed, up, up}, []AdminState{AdminDrained, 0, 0}, "10.0.0.1/0 10.0.0.2/2 10.0.0.3/3"},
		{"dynamic weight", "", []health{{state: check.Up, weight: 7, hasWeight: true}, up, up}, enabled, "10.0.0.1/7 10.0.0.2/2 10.0.0.3/3"},
		{"unknown is up", "", []health{unknown, up, up}, enabled, "10.0.0.1/1 10.0.0.2/2 10.0.0.3/3"},
		{"alpha", "alpha: true", []health{unknown, up, failed}, enabled, "10.0.0.2/2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := desire(vsOf(t, tc.extra), tc.hs, tc.admins, true, nil)
			if got := dests(res); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestDesireWarmup: before their checks speak, real servers stay as the
// table had them.
func TestDesireWarmup(t *testing.T) {
	prior := map[netip.AddrPort]known{
		netip.MustParseAddrPort("10.0.0.1:80"): {present: true, weight: 5},
		netip.MustParseAddrPort("10.0.0.2:80"): {present: true, weight: 0},
		netip.MustParseAddrPort("10.0.0.3:80"): {},
	}
	res := desire(vsOf(t, ""), []health{unknown, unknown, unknown}, enabled, true, prior)
	if got := dests(res); got != "10.0.0.1/5 10.0.0.2/0" {
		t.Errorf("got %s", got)
	}
	if res.live != 5 {
		t.Errorf("live weight %d", res.live)
	}
}

// TestQuorumHysteresis: quorum is lost below quorum - hysteresis and
// gained at quorum + hysteresis; while it is lost, the sorry server
// stands in for the real servers.
func TestQuorumHysteresis(t *testing.T) {
	vs := vsOf(t, "quorum: 4\nhysteresis: 1\nsorry_server: {address: 10.0.9.9}\n")
	steps := []struct {
		hs   []health
		up   bool
		want string
	}{
		{[]health{up, up, up}, true, "10.0.0.1/1 10.0.0.2/2 10.0.0.3/3"}, // 6
		{[]health{failed, failed, up}, true, "10.0.0.3/3"},               // 3 >= 4-1
		{[]health{failed, up, failed}, false, "10.0.9.9/1"},              // 2 < 3
		{[]health{failed, failed, up}, false, "10.0.9.9/1"},              // 3 < 4+1
		{[]health{up, up, failed}, false, "10.0.9.9/1"},                  // 3
		{[]health{failed, up, up}, true, "10.0.0.2/2 10.0.0.3/3"},        // 5 >= 5
		{[]health{up, up, up}, true, "10.0.0.1/1 10.0.0.2/2 10.0.0.3/3"}, // 6
		{[]health{failed, failed, failed}, false, "10.0.9.9/1"},          // 0
		{[]health{up, up, up}, true, "10.0.0.1/1 10.0.0.2/2 10.0.0.3/3"}, // 6
	}
	quorum := true
	for i, s := range steps {
		res := desire(vs, s.hs, enabled, quorum, nil)
		if res.quorumUp != s.up || dests(res) != s.want {
			t.Fatalf("step %d (live %d): quorum %v, table %s; want %v, %s", i, res.live, res.quorumUp, dests(res), s.up, s.want)
		}
		quorum = res.quorumUp
	}
	// With inhibit, the real servers stay at weight 0 beside the sorry
	// server.
	vs = vsOf(t, "quorum: 4\non_failure: inhibit\nsorry_server: {address: 10.0.9.9, weight: 5}\n")
	res := desire(vs, []health{up, failed, failed}, enabled, true, nil)
	if dests(res) != "10.0.0.1/0 10.0.0.2/0 10.0.0.3/0 10.0.9.9/5" {
		t.Errorf("inhibit: %s", dests(res))
	}
}

// TestDesireProperty: for random virtual servers, health and admin
// states, the desired table follows the rules, and the table the plan
// makes of it through reconcile on the in-memory IPVS is it exactly.
func TestDesireProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := ipvstest.NewFake()
	c := f.Client(t)
	ctx := context.Background()
	policies := []string{"drain", "remove", "inhibit"}
	for round := range 300 {
		n := 1 + rng.IntN(6)
		var b strings.Builder
		fmt.Fprintf(&b, "address: 192.0.2.1\nport: 80\non_failure: %s\n", policies[rng.IntN(3)])
		q := uint32(rng.IntN(12))
		h := uint32(rng.IntN(int(q) + 1))
		fmt.Fprintf(&b, "quorum: %d\nhysteresis: %d\nalpha: %v\n", q, h, rng.IntN(2) == 0)
		sorry := rng.IntN(2) == 0
		if sorry {
			b.WriteString("sorry_server: {address: 10.0.9.9, weight: 4}\n")
		}
		b.WriteString("checks: [{type: tcp}]\nreal_servers:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - {address: 10.0.0.%d, weight: %d}\n", i+1, rng.IntN(5))
		}
		vs, err := config.ParseVirtualServer("t", []byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		hs, admins := make([]health, n), make([]AdminState, n)
		for i := range n {
			hs[i] = []health{up, failed, unknown, {state: check.Up, weight: uint32(rng.IntN(9)), hasWeight: true}}[rng.IntN(4)]
			admins[i] = AdminState(rng.IntN(3))
		}
		was := rng.IntN(2) == 0
		res := desire(vs, hs, admins, was, nil)
		checkRules(t, round, vs, hs, admins, was, res)

		// Through reconcile, the table becomes the desired one.
		p, err := reconcile.NewPlan(ctx, c, []ipvs.VirtualServer{res.vs}, reconcile.Options{Drain: func(ipvs.Service) reconcile.DrainPolicy { return reconcile.DrainPolicyRemoveAtOnce }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Apply(ctx, c); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		got := f.VirtualServers()
		if len(got) != 1 || sortedDests(got[0]) != sortedDests(res.vs) {
			t.Fatalf("round %d: table %s, desired %s", round, sortedDests(got[0]), sortedDests(res.vs))
		}
	}
}

// checkRules checks one desired state against the rules of desire.
func checkRules(t *testing.T, round int, vs *config.VirtualServer, hs []health, admins []AdminState, was bool, res desired) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("round %d (%s): %s", round, dests(res), fmt.Sprintf(format, args...))
	}
	in := map[netip.Addr]uint32{}
	for _, d := range res.vs.Destinations {
		in[d.Address] = d.Weight
	}
	var live uint64
	for i, b := range vs.Backends() {
		w, ok := in[b.Destination.Address]
		isLive := admins[i] == AdminEnabled && (hs[i].state == check.Up || hs[i].state == check.Unknown && !b.Alpha)
		if isLive {
			want := b.Destination.Weight
			if hs[i].hasWeight {
				want = hs[i].weight
			}
			live += uint64(want)
			if res.quorumUp || res.sorry == nil {
				if !ok || w != want {
					fail("live %s: in %v at %d, want %d", b.Destination.Address, ok, w, want)
				}
			}
		}
		switch {
		case admins[i] == AdminDisabled && ok:
			fail("disabled %s in the table", b.Destination.Address)
		case admins[i] == AdminDrained && (!ok || w != 0):
			fail("drained %s: in %v at %d", b.Destination.Address, ok, w)
		case !isLive && admins[i] == AdminEnabled && ok != (vs.FailurePolicy() == config.PolicyInhibit):
			fail("down %s with policy %s: in %v", b.Destination.Address, vs.FailurePolicy(), ok)
		case !isLive && ok && w != 0:
			fail("down %s at weight %d", b.Destination.Address, w)
		}
	}
	if live != res.live {
		fail("live weight %d, want %d", res.live, live)
	}
	q, h := uint64(vs.QuorumWeight()), uint64(vs.Hysteresis)
	if want := was && live+h >= q || !was && live >= q+h; res.quorumUp != want {
		fail("quorum %v, want %v (was %v, live %d, quorum %d, hysteresis %d)", res.quorumUp, want, was, live, q, h)
	}
	_, hasSorry := vs.Sorry()
	if w, ok := in[netip.MustParseAddr("10.0.9.9")]; ok != (hasSorry && !res.quorumUp) || ok && w != 4 {
		fail("sorry server in %v at %d, quorum %v", ok, w, res.quorumUp)
	}
}
