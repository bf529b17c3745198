package collector_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/netip"
	"strings"

	"github.com/ipvs-go/ipvs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

// Serve the IPVS table of this namespace and of Docker Swarm's ingress
// namespace on one endpoint. The Dialer opens each client at the first
// scrape, so the exporter starts even where ip_vs is not loaded yet.
func ExampleNew() {
	reg := prometheus.NewRegistry()
	for netns, path := range map[string]string{"": "", "ingress_sbox": "/var/run/docker/netns/ingress_sbox"} {
		c, err := collector.New(collector.NewDialer(&ipvs.Config{NetNSPath: path}), collector.WithNetNS(netns))
		if err != nil {
			log.Fatal(err)
		}
		reg.MustRegister(c)
	}
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	log.Fatal(http.ListenAndServe(":9778", nil))
}

// table is a Source with one service and two destinations.
type table struct{}

func (table) VirtualServers(context.Context) ([]ipvs.VirtualServer, error) {
	dst := func(addr string, conns uint32) ipvs.Destination {
		return ipvs.Destination{Address: netip.MustParseAddr(addr), Port: 8080, Weight: 1, ActiveConnections: conns}
	}
	return []ipvs.VirtualServer{{
		Service:      ipvs.Service{Family: ipvs.FamilyIPv4, Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("192.0.2.1"), Port: 80},
		Destinations: []ipvs.Destination{dst("10.0.0.1", 3), dst("10.0.0.2", 4)},
	}}, nil
}
func (table) Info(context.Context) (ipvs.Info, error)         { return ipvs.Info{}, nil }
func (table) Timeouts(context.Context) (ipvs.Timeouts, error) { return ipvs.Timeouts{}, nil }
func (table) Daemons(context.Context) ([]ipvs.Daemon, error)  { return nil, nil }

// Keep only the protocol and port of the services: the destinations'
// connections are then summed per protocol and port.
func ExampleWithLabels() {
	c, err := collector.New(table{}, collector.WithLabels("protocol", "port"))
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ipvs_destination_active_connections" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				fmt.Printf("%s=%s ", l.GetName(), l.GetValue())
			}
			fmt.Println(m.GetGauge().GetValue())
		}
	}
	// Output: port=80 protocol=tcp 7
}

// Write the table's metrics in the text format, as an HTTP handler would
// serve them; here only the destinations' active connections are kept.
func ExampleWriteText() {
	c, err := collector.New(table{})
	if err != nil {
		log.Fatal(err)
	}
	var b strings.Builder
	if err := collector.WriteText(context.Background(), &b, c); err != nil {
		log.Fatal(err)
	}
	for line := range strings.Lines(b.String()) {
		if strings.HasPrefix(line, "ipvs_destination_active_connections{") {
			fmt.Print(line)
		}
	}
	// Output:
	// ipvs_destination_active_connections{address="192.0.2.1",dest_address="10.0.0.1",dest_family="ipv4",dest_port="8080",family="ipv4",fwmark="",port="80",protocol="tcp"} 3
	// ipvs_destination_active_connections{address="192.0.2.1",dest_address="10.0.0.2",dest_family="ipv4",dest_port="8080",family="ipv4",fwmark="",port="80",protocol="tcp"} 4
}
