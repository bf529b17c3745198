package reconcile

import (
	"context"
	"fmt"
	"slices"

	"github.com/ipvs-go/ipvs"
)

// Advisory is a kernel setting (a sysctl of the namespace, under
// /proc/sys/net/ipv4/vs) that works against what a plan does to the
// destinations it drains or removes.
type Advisory struct {
	// Sysctl is the setting's name, such as "expire_nodest_conn".
	Sysctl string
	// Value is its value.
	Value int
	// Message says what it defeats, naming an example.
	Message string
}

// String returns "SYSCTL=VALUE: MESSAGE".
func (a Advisory) String() string { return fmt.Sprintf("%s=%d: %s", a.Sysctl, a.Value, a.Message) }

// advise returns the advisories for plan p under the sysctls s, each
// naming the first change or drain it concerns and how many more there
// are. A sysctl the kernel lacks advises nothing.
func advise(p *Plan, s *ipvs.Sysctls) []Advisory {
	var removed, retired, quiescent []string
	for i, e := range p.entries {
		if e.kind != KindRemoveDestination && e.kind != KindDrainDestination {
			continue
		}
		c := p.change(i)
		switch c.Kind {
		case KindRemoveDestination:
			what := fmt.Sprintf("%s of %s", c.Destination, c.Service)
			retired = append(retired, what)
			if c.Service.Protocol == ipvs.ProtocolUDP || c.Service.Protocol == ipvs.ProtocolSCTP ||
				c.Destination.ActiveConnections+c.Destination.InactiveConnections > 0 {
				removed = append(removed, what)
			}
		case KindDrainDestination:
			retired = append(retired, fmt.Sprintf("%s of %s", c.Destination, c.Service))
		}
	}
	for _, d := range p.draining {
		if d.Service.Flags&ipvs.FlagPersistent != 0 {
			quiescent = append(quiescent, fmt.Sprintf("%s of %s", d.Destination, d.Service))
		}
	}
	var out []Advisory
	if !s.ExpireNodestConn && kernelHas(s, "expire_nodest_conn") && len(removed) > 0 {
		out = append(out, Advisory{"expire_nodest_conn", 0, "connections of removed destinations (" + firstOf(removed) +
			") keep being dropped until they time out, which for UDP flows that keep sending is never; 1 ends each at its next packet"})
	}
	if s.ConnReuseMode == 0 && kernelHas(s, "conn_reuse_mode") && len(retired) > 0 {
		out = append(out, Advisory{"conn_reuse_mode", 0, "a new connection that reuses the source port of an old one goes to the old one's destination, even at weight 0 or removed (" +
			firstOf(retired) + "), and so ignores expire_nodest_conn; the default 1 reschedules it"})
	}
	if !s.ExpireQuiescentTemplate && kernelHas(s, "expire_quiescent_template") && len(quiescent) > 0 {
		out = append(out, Advisory{"expire_quiescent_template", 0, "clients of a persistent service keep reaching its weight-0 destinations (" +
			firstOf(quiescent) + ") while their persistence templates live, so the drain lasts as long as they come back; 1 expires the templates"})
	}
	return out
}

// firstOf names the first of a list and counts the rest.
func firstOf(list []string) string {
	if len(list) == 1 {
		return list[0]
	}
	return fmt.Sprintf("%s and %d more", list[0], len(list)-1)
}

// kernelHas reports whether the kernel has the sysctl name.
func kernelHas(s *ipvs.Sysctls, name string) bool { return !slices.Contains(s.Absent, name) }

// retires reports whether the plan drains or removes a destination, or
// keeps one draining: what the advisories are about.
func (p *Plan) retires() bool {
	if len(p.draining) > 0 {
		return true
	}
	for _, e := range p.entries {
		if e.kind == KindDrainDestination || e.kind == KindRemoveDestination {
			return true
		}
	}
	return false
}

// adviseFrom sets the plan's advisories from opts.Sysctls, or else from
// the sysctls of c's namespace when the plan retires a destination and
// they can be read: advisories never fail a plan.
func (p *Plan) adviseFrom(ctx context.Context, c *ipvs.Client, opts *Options) {
	if opts.Sysctls != nil || !p.retires() {
		return
	}
	if s, err := c.Sysctls(ctx); err == nil {
		p.advisories = advise(p, &s)
	}
}
