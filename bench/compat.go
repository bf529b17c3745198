//go:build linux

package main

import (
	"fmt"
	"net"
	"strings"

	"github.com/cloudflare/ipvs/netmask"

	compatcf "github.com/ipvs-go/ipvs/compat/cloudflare"
	compatmoby "github.com/ipvs-go/ipvs/compat/moby"
)

// The drop-ins of compat/ run the peers' workloads through the peers'
// own API, each against its original: the same calls, in the same order,
// so that the difference is the package alone.
var compatContenders = []string{"moby-compat", "cloudflare-compat"}

// compatOf names the original each drop-in stands in for.
var compatOf = map[string]string{"moby-compat": "moby", "cloudflare-compat": "cloudflare"}

func init() {
	names["moby-compat"] = "compat/moby, the drop-in"
	names["cloudflare-compat"] = "compat/cloudflare, the drop-in"
}

// newCompat returns the contender of a drop-in, or false for another name.
func newCompat(name string) (contender, bool, error) {
	switch name {
	case "moby-compat":
		h, err := compatmoby.New("")
		return &mobyLike[compatmoby.Service, compatmoby.Destination, *compatmoby.Handle]{h, compatMobySvc, compatMobyDst}, true, err
	case "cloudflare-compat":
		c, err := compatcf.New()
		return &cfLike[compatcf.Service, compatcf.Destination, compatcf.ServiceExtended, compatcf.DestinationExtended]{
			c, compatCfSvc, compatCfDst, func(s compatcf.ServiceExtended) compatcf.Service { return s.Service }}, true, err
	}
	return nil, false, nil
}

// mobyHandle is moby/ipvs's Handle, or its drop-in's.
type mobyHandle[S, D any] interface {
	NewService(*S) error
	NewDestination(*S, *D) error
	GetServices() ([]*S, error)
	GetDestinations(*S) ([]*D, error)
	UpdateDestination(*S, *D) error
	DelService(*S) error
}

// mobyLike runs the workloads through moby/ipvs's API; svc and dst build
// the objects of the workloads (see mobySvc).
type mobyLike[S, D any, H mobyHandle[S, D]] struct {
	h   H
	svc func(i int) *S
	dst func(i, j, weight int) *D
}

func (m *mobyLike[S, D, H]) create(n, d int) error {
	for i := range n {
		if err := m.h.NewService(m.svc(i)); err != nil {
			return err
		}
		for j := range d {
			if err := m.h.NewDestination(m.svc(i), m.dst(i, j, 1)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *mobyLike[S, D, H]) read(n, d int) (int, error) {
	svcs, err := m.h.GetServices()
	if err != nil {
		return 0, err
	}
	objects := 0
	for _, s := range svcs {
		ds, err := m.h.GetDestinations(s)
		if err != nil {
			return 0, err
		}
		objects += 1 + len(ds)
	}
	return objects, nil
}

func (m *mobyLike[S, D, H]) update(n, d int) error {
	for i := range n {
		for j := range d {
			if err := m.h.UpdateDestination(m.svc(i), m.dst(i, j, 2)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *mobyLike[S, D, H]) remove(n, d int) error {
	for i := range n {
		if err := m.h.DelService(m.svc(i)); err != nil {
			return err
		}
	}
	return nil
}

func compatMobySvc(i int) *compatmoby.Service {
	a := svcAddr(i).As4()
	return &compatmoby.Service{Address: net.IP(a[:]), Protocol: 6, Port: 80, SchedName: "rr", Netmask: 0xffffffff, AddressFamily: 2}
}

func compatMobyDst(i, j, weight int) *compatmoby.Destination {
	a, p := dstAddr(i, j)
	b := a.As4()
	return &compatmoby.Destination{Address: net.IP(b[:]), Port: p, Weight: weight, AddressFamily: 2}
}

// cfClient is cloudflare/ipvs's Client, or its drop-in's.
type cfClient[S, D, SE, DE any] interface {
	CreateService(S) error
	CreateDestination(S, D) error
	Services() ([]SE, error)
	Destinations(S) ([]DE, error)
	UpdateDestination(S, D) error
	RemoveService(S) error
}

// cfLike runs the workloads through cloudflare/ipvs's API; svc and dst
// build the objects (see cfSvc), and key takes a listed service's
// identity.
type cfLike[S, D, SE, DE any] struct {
	c   cfClient[S, D, SE, DE]
	svc func(i int) S
	dst func(i, j int, weight uint32) D
	key func(SE) S
}

func (c *cfLike[S, D, SE, DE]) create(n, d int) error {
	for i := range n {
		if err := c.c.CreateService(c.svc(i)); err != nil {
			return err
		}
		for j := range d {
			if err := c.c.CreateDestination(c.svc(i), c.dst(i, j, 1)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *cfLike[S, D, SE, DE]) read(n, d int) (int, error) {
	svcs, err := c.c.Services()
	if err != nil {
		return 0, err
	}
	objects := 0
	for _, s := range svcs {
		ds, err := c.c.Destinations(c.key(s))
		if err != nil {
			return 0, err
		}
		objects += 1 + len(ds)
	}
	return objects, nil
}

func (c *cfLike[S, D, SE, DE]) update(n, d int) error {
	for i := range n {
		for j := range d {
			if err := c.c.UpdateDestination(c.svc(i), c.dst(i, j, 2)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *cfLike[S, D, SE, DE]) remove(n, d int) error {
	for i := range n {
		if err := c.c.RemoveService(c.svc(i)); err != nil {
			return err
		}
	}
	return nil
}

func compatCfSvc(i int) compatcf.Service {
	return compatcf.Service{Address: svcAddr(i), Netmask: netmask.MaskFrom4([4]byte{255, 255, 255, 255}), Scheduler: "rr",
		Port: 80, Family: compatcf.INET, Protocol: compatcf.TCP}
}

func compatCfDst(i, j int, weight uint32) compatcf.Destination {
	a, p := dstAddr(i, j)
	return compatcf.Destination{Address: a, FwdMethod: compatcf.Masquerade, Weight: weight, Port: p, Family: compatcf.INET}
}

// compatIntro says what the drop-ins' tables compare.
const compatIntro = "The peers' own API, called the same way, through each original package and through its drop-in of compat/ (built on this library), in the same run; times are medians with [min–max], and a ratio below 1 means the drop-in is faster. The drop-ins answer a walk over the table (the services, then each one's destinations) from one batch read of the library (VirtualServers) once the walk reaches its second service; their writes here are single calls, since the peers' API returns each write's own error and the workloads write in sequence (writes that several goroutines make at once would go together in one Apply).\n\n"

// compatReport renders the drop-ins against their originals, per size:
// the medians of each workload and their ratio.
func compatReport(stats map[key]stat, sizes []int) string {
	var b strings.Builder
	for k, n := range sizes {
		if _, ok := stats[key{"moby-compat", "create", n}]; !ok {
			continue
		}
		fmt.Fprintf(&b, "## The drop-ins against their originals: %d services × 10 destinations\n\n", n)
		if k == 0 {
			b.WriteString(compatIntro)
		}
		b.WriteString("| workload | moby/ipvs | compat/moby | ratio | cloudflare/ipvs | compat/cloudflare | ratio |\n|---|--:|--:|--:|--:|--:|--:|\n")
		for _, w := range workloads {
			fmt.Fprintf(&b, "| %s |", w)
			for _, c := range compatContenders {
				orig, drop := stats[key{compatOf[c], w, n}], stats[key{c, w, n}]
				fmt.Fprintf(&b, " %.3f s [%.3f–%.3f] | %.3f s [%.3f–%.3f] | %.2f |", orig.median, orig.lo, orig.hi,
					drop.median, drop.lo, drop.hi, drop.median/orig.median)
			}
			b.WriteString("\n")
		}
		b.WriteString("| allocs per object (create / read / update / remove) |")
		for _, c := range compatContenders {
			for _, name := range []string{compatOf[c], c} {
				var parts []string
				for _, w := range workloads {
					parts = append(parts, fmt.Sprintf("%.2f", stats[key{name, w, n}].allocs))
				}
				fmt.Fprintf(&b, " %s |", strings.Join(parts, " / "))
			}
			b.WriteString(" |")
		}
		b.WriteString("\n\n")
	}
	return b.String()
}

// compatTargets checks the drop-ins' target: each workload at least as
// fast through the drop-in as through the original.
func compatTargets(stats map[key]stat, sizes []int) string {
	var b strings.Builder
	for _, n := range sizes {
		for _, c := range compatContenders {
			for _, w := range workloads {
				drop, ok := stats[key{c, w, n}]
				if !ok {
					continue
				}
				r := drop.median / stats[key{compatOf[c], w, n}].median
				met := "yes"
				if r > 1 {
					met = "**no**"
				}
				fmt.Fprintf(&b, "| %s no slower than %s: %s | %d | %.2f× | %s |\n", names[c], names[compatOf[c]], w, n, r, met)
			}
		}
	}
	return b.String()
}
