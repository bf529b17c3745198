package ipvs_test

import (
	"fmt"
	"log"
	"net"
	"syscall"

	ipvs "github.com/ipvs-go/ipvs/compat/moby"
)

// A program written for github.com/moby/ipvs, unchanged: with the replace
// line in its go.mod, its import of github.com/moby/ipvs is this package.
func Example() {
	h, err := ipvs.New("")
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	svc := &ipvs.Service{AddressFamily: syscall.AF_INET, Protocol: syscall.IPPROTO_TCP, Address: net.ParseIP("192.0.2.10"),
		Port: 80, SchedName: ipvs.RoundRobin, Netmask: 0xFFFFFFFF}
	if err := h.NewService(svc); err != nil && err != syscall.EEXIST {
		log.Fatal(err)
	}
	dst := &ipvs.Destination{Address: net.ParseIP("10.0.0.2"), Port: 8080, Weight: 1, ConnectionFlags: ipvs.ConnectionFlagMasq}
	if err := h.NewDestination(svc, dst); err != nil && err != syscall.EEXIST {
		log.Fatal(err)
	}
	svcs, err := h.GetServices()
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range svcs {
		dests, err := h.GetDestinations(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(s.Address, s.Port, s.SchedName, len(dests))
	}
}
