//go:build linux

package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"

	cf "github.com/cloudflare/ipvs"
	"github.com/cloudflare/ipvs/netmask"
	"github.com/moby/ipvs"

	lib "github.com/ipvs-go/ipvs"
)

// libContender is this library: single calls, or batches and
// VirtualServers.
type libContender struct {
	c     *lib.Client
	batch bool
}

func newLib(batch bool) (contender, error) {
	c, err := lib.New(nil)
	return &libContender{c: c, batch: batch}, err
}

func libSvc(i int) lib.Service {
	return lib.Service{Protocol: lib.ProtocolTCP, Address: svcAddr(i), Port: 80, Scheduler: "rr"}
}

func libDst(i, j, weight int) lib.Destination {
	a, p := dstAddr(i, j)
	return lib.Destination{Address: a, Port: p, Forward: lib.ForwardMasquerade, Weight: uint32(weight)}
}

func (l *libContender) apply(b *lib.Batch) error {
	res, err := l.c.Apply(context.Background(), b)
	if err != nil {
		return err
	}
	for _, r := range res {
		if r != nil {
			return r
		}
	}
	return nil
}

func (l *libContender) create(n, d int) error {
	ctx := context.Background()
	var b lib.Batch
	for i := range n {
		if l.batch {
			b.CreateService(libSvc(i))
		} else if err := l.c.CreateService(ctx, libSvc(i)); err != nil {
			return err
		}
		for j := range d {
			if l.batch {
				b.CreateDestination(libSvc(i), libDst(i, j, 1))
			} else if err := l.c.CreateDestination(ctx, libSvc(i), libDst(i, j, 1)); err != nil {
				return err
			}
		}
	}
	if l.batch {
		return l.apply(&b)
	}
	return nil
}

func (l *libContender) read(n, d int) (int, error) {
	ctx := context.Background()
	objects := 0
	if l.batch {
		vss, err := l.c.VirtualServers(ctx)
		for _, vs := range vss {
			objects += 1 + len(vs.Destinations)
		}
		return objects, err
	}
	svcs, err := l.c.Services(ctx)
	if err != nil {
		return 0, err
	}
	for _, s := range svcs {
		ds, err := l.c.Destinations(ctx, s)
		if err != nil {
			return 0, err
		}
		objects += 1 + len(ds)
	}
	return objects, nil
}

func (l *libContender) update(n, d int) error {
	ctx := context.Background()
	var b lib.Batch
	for i := range n {
		for j := range d {
			if l.batch {
				b.UpdateDestination(libSvc(i), libDst(i, j, 2))
			} else if err := l.c.UpdateDestination(ctx, libSvc(i), libDst(i, j, 2)); err != nil {
				return err
			}
		}
	}
	if l.batch {
		return l.apply(&b)
	}
	return nil
}

func (l *libContender) remove(n, d int) error {
	ctx := context.Background()
	var b lib.Batch
	for i := range n {
		if l.batch {
			b.RemoveService(libSvc(i))
		} else if err := l.c.RemoveService(ctx, libSvc(i)); err != nil {
			return err
		}
	}
	if l.batch {
		return l.apply(&b)
	}
	return nil
}

// newCloudflare returns github.com/cloudflare/ipvs.
func newCloudflare() (contender, error) {
	c, err := cf.New()
	return &cfLike[cf.Service, cf.Destination, cf.ServiceExtended, cf.DestinationExtended]{
		c, cfSvc, cfDst, func(s cf.ServiceExtended) cf.Service { return s.Service }}, err
}

func cfSvc(i int) cf.Service {
	return cf.Service{Address: svcAddr(i), Netmask: netmask.MaskFrom4([4]byte{255, 255, 255, 255}), Scheduler: "rr",
		Port: 80, Family: cf.INET, Protocol: cf.TCP}
}

func cfDst(i, j int, weight uint32) cf.Destination {
	a, p := dstAddr(i, j)
	return cf.Destination{Address: a, FwdMethod: cf.Masquerade, Weight: weight, Port: p, Family: cf.INET}
}

// newMoby returns github.com/moby/ipvs.
func newMoby() (contender, error) {
	h, err := ipvs.New("")
	return &mobyLike[ipvs.Service, ipvs.Destination, *ipvs.Handle]{h, mobySvc, mobyDst}, err
}

func mobySvc(i int) *ipvs.Service {
	a := svcAddr(i).As4()
	return &ipvs.Service{Address: net.IP(a[:]), Protocol: 6, Port: 80, SchedName: "rr", Netmask: 0xffffffff, AddressFamily: 2}
}

func mobyDst(i, j, weight int) *ipvs.Destination {
	a, p := dstAddr(i, j)
	b := a.As4()
	return &ipvs.Destination{Address: net.IP(b[:]), Port: p, Weight: weight, AddressFamily: 2}
}

// ipvsadm is the ipvsadm command: -R for writes, -Sn for reads. Building
// the rules text is part of its cost, as it is for a program that drives
// ipvsadm.
type ipvsadm struct{}

func (ipvsadm) restore(rules string) error {
	cmd := exec.Command("ipvsadm", "-R")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ipvsadm -R: %v: %s", err, out)
	}
	return nil
}

func (a ipvsadm) create(n, d int) error {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "-A -t %s:80 -s rr\n", svcAddr(i))
		for j := range d {
			da, dp := dstAddr(i, j)
			fmt.Fprintf(&b, "-a -t %s:80 -r %s:%d -m -w 1\n", svcAddr(i), da, dp)
		}
	}
	return a.restore(b.String())
}

func (ipvsadm) read(n, d int) (int, error) {
	out, err := exec.Command("ipvsadm", "-Sn").Output()
	return strings.Count(string(out), "\n"), err
}

func (a ipvsadm) update(n, d int) error {
	var b strings.Builder
	for i := range n {
		for j := range d {
			da, dp := dstAddr(i, j)
			fmt.Fprintf(&b, "-e -t %s:80 -r %s:%d -m -w 2\n", svcAddr(i), da, dp)
		}
	}
	return a.restore(b.String())
}

func (a ipvsadm) remove(n, d int) error {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "-D -t %s:80\n", svcAddr(i))
	}
	return a.restore(b.String())
}
