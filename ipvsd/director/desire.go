package director

import (
	"fmt"
	"math"
	"net/netip"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// What a virtual server's desired state is made of, as a pure function
// of its configuration, its real servers' health and admin states, its
// quorum state before, and the weights known from before: the property
// tests drive it with random inputs.

// health is what a real server's checks say of it, all of them at once:
// down if one is down, up if all are up, unknown otherwise.
type health struct {
	state check.Health
	// weight is the dynamic weight a misc_dynamic check asked for, the
	// least of them if several did; it counts when hasWeight is set.
	weight    uint32
	hasWeight bool
	// why is what the failing check said, for a down one.
	why string
}

// decision is what becomes of one real server of a virtual server.
type decision struct {
	// wanted: in the desired table, at weight.
	wanted bool
	weight uint32
	// live: up, enabled, and so counted in the quorum.
	live bool
	// reason says why, for plans, logs and the API.
	reason string
}

// desired is the state a virtual server should be in.
type desired struct {
	vs ipvs.VirtualServer
	// backends are the decisions, one per configured real server.
	backends []decision
	// sorry is the sorry server's decision, if there is one.
	sorry    *decision
	quorumUp bool
	// live is the total weight of the live real servers.
	live uint64
}

// known is what was known of a real server before its checks spoke: in
// the table at start-up, then in what was last desired.
type known struct {
	present bool
	weight  uint32
}

// desire computes what vs should be: from the health and admin state of
// each of its real servers (in the order of vs.Backends()), whether it had
// quorum before, and prior, what is known from before of real servers
// whose health is not.
func desire(vs *config.VirtualServer, hs []health, admins []AdminState, quorumWas bool, prior map[netip.AddrPort]known) desired {
	bs := vs.Backends()
	out := desired{backends: make([]decision, len(bs))}
	policy := vs.FailurePolicy()
	for i, b := range bs {
		d := &out.backends[i]
		up, w, why := effective(b, hs[i], prior)
		switch {
		case admins[i] == AdminDisabled:
			d.reason = "disabled through the API"
		case admins[i] == AdminDrained:
			d.wanted, d.reason = true, "drained through the API"
		case up == held:
			d.wanted, d.reason = true, why
		case up == live:
			d.wanted, d.live, d.weight, d.reason = true, true, w, why
			out.live += uint64(w)
		default:
			d.wanted = policy == config.PolicyInhibit
			d.reason = why + "; " + policy.String()
		}
	}
	q, h := uint64(vs.QuorumWeight()), uint64(vs.Hysteresis)
	if quorumWas {
		out.quorumUp = out.live+h >= q
	} else {
		out.quorumUp = out.live >= q+h
	}
	sorry, hasSorry := vs.Sorry()
	if !out.quorumUp && hasSorry {
		// keepalived's rule: while quorum is lost, the sorry server
		// stands in for every real server.
		lost := fmt.Sprintf("quorum lost (live weight %d, quorum %d)", out.live, q)
		for i := range out.backends {
			d := &out.backends[i]
			if d.live {
				d.wanted = policy == config.PolicyInhibit
				d.weight = 0
				d.reason = lost + ": the sorry server stands in; " + policy.String()
			}
		}
		out.sorry = &decision{wanted: true, weight: sorry.Weight, reason: lost}
	} else if hasSorry {
		out.sorry = &decision{reason: "quorum held"}
	}
	svc := vs.Service()
	out.vs = ipvs.VirtualServer{Service: svc, Destinations: make([]ipvs.Destination, 0, len(bs)+1)}
	for i, b := range bs {
		if d := out.backends[i]; d.wanted {
			dst := b.Destination
			dst.Weight = d.weight
			out.vs.Destinations = append(out.vs.Destinations, dst)
		}
	}
	if out.sorry != nil && out.sorry.wanted {
		out.vs.Destinations = append(out.vs.Destinations, sorry)
	}
	return out
}

// standing is how a real server counts, whatever its admin state.
type standing uint8

const (
	down standing = iota // failed: its virtual server's policy applies
	live                 // up: in the table at its weight
	held                 // not checked yet, and at weight 0 before: kept so
)

// effective returns how real server b counts, at what weight, and why:
// its checks decide once they have. Before that, it stays as it was, so
// that a restart leaves the table as it is while the checks warm up: at
// its weight, at weight 0, or out of the table (until its checks pass);
// one new to the configuration is up unless alpha says otherwise.
func effective(b config.Backend, h health, prior map[netip.AddrPort]known) (s standing, weight uint32, why string) {
	weight = b.Destination.Weight
	switch {
	case len(b.Checks) == 0:
		return live, weight, "up: no checks"
	case h.state == check.Up && h.hasWeight:
		return live, min(h.weight, math.MaxInt32), fmt.Sprintf("up: dynamic weight %d", h.weight)
	case h.state == check.Up:
		return live, weight, "up"
	case h.state == check.Down:
		return down, 0, "down: " + h.why
	}
	k, ok := prior[addrPort(b.Destination)]
	switch {
	case ok && !k.present:
		return down, 0, "not checked yet: out of the table as it was, until its checks pass"
	case ok && k.weight == 0:
		return held, 0, "not checked yet: kept at weight 0 as it was"
	case ok:
		return live, k.weight, fmt.Sprintf("not checked yet: kept at weight %d as it was", k.weight)
	case b.Alpha:
		return down, 0, "not checked yet: down until its checks pass (alpha)"
	}
	return live, weight, "not checked yet: up until its checks fail"
}
