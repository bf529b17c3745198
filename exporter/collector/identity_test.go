package collector

import (
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/identitycases"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestIdentityTable gives the collector every case of the shared identity
// table as a dump would, each service twice, once as the caller gave it
// with its destination in both forms and once in its key's form: both
// paths write one series per service and destination, with the labels
// and names of the table's keys.
func TestIdentityTable(t *testing.T) {
	cases := identitycases.Load(t)
	src := goldenTable()
	src.vss = nil
	for _, c := range cases {
		c.Service.Scheduler, c.Destination.Weight = "rr", 1
		keyed := ipvs.Service{Family: c.Key.Family, Protocol: c.Key.Protocol, Address: c.Key.Address, Port: c.Key.Port,
			FWMark: c.Key.FWMark, Scheduler: "rr"}
		canonical := c.Destination.Canonical(c.Key)
		src.vss = append(src.vss,
			ipvs.VirtualServer{Service: c.Service, Destinations: []ipvs.Destination{c.Destination, canonical}},
			ipvs.VirtualServer{Service: keyed, Destinations: []ipvs.Destination{canonical}})
	}
	registry, text := bothPaths(t, src)
	if registry != text {
		t.Fatalf("WriteText wrote\n%s\nthe registry\n%s", text, registry)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	services := map[string]map[string]string{} // by service_name
	for _, m := range mfs["ipvs_service_info"].GetMetric() {
		l := labelMap(m.GetLabel())
		if services[l["service_name"]] != nil {
			t.Errorf("service %s written twice", l["service_name"])
		}
		services[l["service_name"]] = l
	}
	dests := map[string]int{} // by service_name and destination_name
	for _, m := range mfs["ipvs_destination_info"].GetMetric() {
		l := labelMap(m.GetLabel())
		dests[l["service_name"]+" "+l["destination_name"]]++
		if got := net.JoinHostPort(l["dest_address"], l["dest_port"]); got != l["destination_name"] {
			t.Errorf("destination %s has the identity labels of %s", l["destination_name"], got)
		}
	}
	if len(services) != len(cases) || len(dests) != len(cases) {
		t.Errorf("%d services and %d destinations written for %d cases", len(services), len(dests), len(cases))
	}
	for _, c := range cases {
		l := services[c.Text]
		if l == nil {
			t.Errorf("%s: no service named %q", c.Name, c.Text)
			continue
		}
		want := map[string]string{"family": c.Key.Family.String(), "fwmark": ""}
		if c.Key.FWMark != 0 {
			want["fwmark"] = strconv.Itoa(int(c.Key.FWMark))
		} else {
			want["protocol"], want["address"], want["port"] = c.Key.Protocol.String(), c.Key.Address.String(), strconv.Itoa(int(c.Key.Port))
		}
		for name, v := range want {
			if l[name] != v {
				t.Errorf("%s: label %s %q, want %q", c.Name, name, l[name], v)
			}
		}
		if n := dests[c.Text+" "+c.DestinationKey.String()]; n != 1 {
			t.Errorf("%s: destination %s written %d times, want once", c.Name, c.DestinationKey, n)
		}
	}
}

func labelMap(pairs []*dto.LabelPair) map[string]string {
	l := map[string]string{}
	for _, p := range pairs {
		l[p.GetName()] = p.GetValue()
	}
	return l
}
