package ipvs_test

import (
	"errors"
	"log"
	"net/netip"
	"os"
	"syscall"

	"github.com/cloudflare/ipvs/netmask"
	ipvs "github.com/ipvs-go/ipvs/compat/cloudflare"
)

// A program written for github.com/cloudflare/ipvs, unchanged: with the
// replace line in its go.mod, its imports of github.com/cloudflare/ipvs
// and its netmask are this module's packages.
func Example() {
	c, err := ipvs.New()
	if err != nil {
		log.Fatal(err)
	}
	svc := ipvs.Service{Family: ipvs.INET, Protocol: ipvs.TCP, Address: netip.MustParseAddr("192.0.2.10"), Port: 80,
		Scheduler: "rr", Netmask: netmask.MaskFrom(32, 32)}
	if err := c.CreateService(svc); err != nil && !errors.Is(err, syscall.EEXIST) {
		log.Fatal(err)
	}
	// An empty table is an empty list here, not os.ErrNotExist; a program
	// that handled that error as an empty table still works.
	services, err := c.Services()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Fatal(err)
	}
	for _, s := range services {
		log.Printf("%s:%d/%s %s", s.Address, s.Port, s.Protocol, s.Scheduler)
	}
}
