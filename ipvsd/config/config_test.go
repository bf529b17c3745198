package config

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// TestExample: the example file of the README parses, and means what its
// comments say.
func TestExample(t *testing.T) {
	c, err := Load("../ipvsd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.VirtualServers) != 2 {
		t.Fatalf("%d virtual servers", len(c.VirtualServers))
	}
	web := &c.VirtualServers[0]
	svc := web.Service()
	if svc.String() != "tcp 192.0.2.10:80" || svc.Scheduler != "wrr" {
		t.Errorf("service %s %s", svc, svc.Scheduler)
	}
	b := web.Backends()
	if len(b) != 3 || b[0].Destination.Weight != 2 || b[1].Destination.Weight != 1 || b[0].Destination.Forward != ipvs.ForwardMasquerade {
		t.Fatalf("backends %+v", b)
	}
	p := b[0].Checks[0]
	if p.Kind != check.KindHTTP || p.Target != netip.MustParseAddrPort("10.0.1.1:8080") || p.Interval != 2*time.Second ||
		p.Timeout != time.Second || p.Retry != 2 || p.Fall != 1 || p.Rise != 1 || p.Warmup != 2*time.Second ||
		p.HTTP.Path != "/healthz" || len(p.HTTP.Status) != 1 || p.HTTP.Status[0] != (check.StatusRange{Min: 200, Max: 299}) {
		t.Errorf("check %+v", p)
	}
	if e := b[2].Checks[0]; e.Kind != check.KindExec || !e.Exec.Dynamic || strings.Join(e.Exec.Command, " ") != "/bin/sh -c /usr/local/bin/weight-of 10.0.1.3" {
		t.Errorf("exec check %+v", e.Exec)
	}
	if s, ok := web.Sorry(); !ok || s.String() != "10.0.9.1:8080" {
		t.Errorf("sorry server %v %v", s, ok)
	}
	if web.QuorumWeight() != 2 || web.FailurePolicy() != PolicyDrain {
		t.Errorf("quorum %d policy %s", web.QuorumWeight(), web.FailurePolicy())
	}
	dns := &c.VirtualServers[1]
	if dns.FailurePolicy() != PolicyRemove || dns.Backends()[0].Destination.Port != 53 || dns.Backends()[0].Checks[0].DNS.Type != "A" {
		t.Errorf("dns %+v", dns.Backends()[0])
	}
	if c.Director.SyncEvery() != 5*time.Second || c.Director.DrainLimit() != 10*time.Minute {
		t.Errorf("director %+v", c.Director)
	}
}

// TestErrors: each error names the file, the line and column of the
// field, the field's path, and the value.
func TestErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"empty", "", "f.yaml: is empty"},
		{"no list", "director: {}\n", "f.yaml:1:1: no virtual_servers"},
		{"syntax", "virtual_servers:\n  - address: [\n", "f.yaml:2:1: did not find expected node content"},
		{"two documents", "virtual_servers: []\n---\nvirtual_servers: []\n", "f.yaml:2:1: a second YAML document"},
		{"unknown field", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    lvs_shed: rr\n",
			`f.yaml:4:5: virtual_servers[0].lvs_shed: unknown field; did you mean "lvs_sched"?`},
		{"unknown field far", "virtual_servers: []\nbogus: 1\n", "f.yaml:2:1: bogus: unknown field"},
		{"twice", "virtual_servers: []\nvirtual_servers: []\n", "f.yaml:2:1: virtual_servers: given twice"},
		{"case", "VIRTUAL_SERVERS: []\nvirtual_servers: []\n", "f.yaml:1:1: VIRTUAL_SERVERS: unknown field"},
		{"weight", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    real_servers:\n      - {address: 10.1.0.1, weight: -3}\n",
			`f.yaml:5:29: virtual_servers[0].real_servers[0].weight: "-3" is not a whole number from 0 to 4294967295`},
		{"weight range", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    real_servers:\n      - {address: 10.1.0.1, weight: 2147483648}\n",
			"f.yaml:5:29: virtual_servers[0].real_servers[0].weight: 2147483648 is more than 2147483647"},
		{"bool", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    alpha: yes\n",
			`f.yaml:4:5: virtual_servers[0].alpha: "yes" is not a bool: want true or false`},
		{"address", "virtual_servers:\n  - address: 10.0.0.300\n    port: 80\n",
			`f.yaml:2:5: virtual_servers[0].address: "10.0.0.300" is not an IP address`},
		{"port missing", "virtual_servers:\n  - address: 10.0.0.1\n",
			"f.yaml:2:5: virtual_servers[0].port: is required"},
		{"scheduler", "virtual_servers:\n  - {address: 10.0.0.1, port: 80, lvs_sched: wrong}\n",
			`f.yaml:2:35: virtual_servers[0].lvs_sched: "wrong" is not a scheduler`},
		{"check field", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    checks:\n      - {type: tcp, path: /}\n",
			"f.yaml:5:21: virtual_servers[0].checks[0].path: applies to http, https checks, and this one is tcp"},
		{"family", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    real_servers:\n      - address: 2001:db8::1\n",
			"f.yaml:5:9: virtual_servers[0].real_servers[0].address: 2001:db8::1 is ipv6 and the virtual server ipv4"},
		{"duplicate real server", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    real_servers:\n      - {address: 10.1.0.1}\n      - {address: 10.1.0.1, port: 80}\n",
			"f.yaml:6:9: virtual_servers[0].real_servers[1]: 10.1.0.1:80 is real_servers[0] already"},
		{"duplicate service", "virtual_servers:\n  - {address: 10.0.0.1, port: 80}\n  - {address: 10.0.0.1, port: 80, name: b}\n",
			"f.yaml:3:5: virtual_servers[1]: tcp 10.0.0.1:80 is virtual_servers[0] too"},
		{"duplicate name", "virtual_servers:\n  - {address: 10.0.0.1, port: 80, name: a}\n  - {address: 10.0.0.2, port: 80, name: a}\n",
			`f.yaml:3:35: virtual_servers[1].name: "a" is the name of virtual_servers[0] too`},
		{"fwmark with port", "virtual_servers:\n  - {fwmark: 7, port: 80}\n",
			"f.yaml:2:17: virtual_servers[0].port: a fwmark virtual server has no port"},
		{"hysteresis", "virtual_servers:\n  - {address: 10.0.0.1, port: 80, quorum: 2, hysteresis: 3}\n",
			"virtual_servers[0].hysteresis: 3 is more than the quorum, 2"},
		{"policy", "virtual_servers:\n  - {address: 10.0.0.1, port: 80, on_failure: cut}\n",
			`virtual_servers[0].on_failure: "cut" is not a policy`},
		{"duration", "virtual_servers:\n  - {address: 10.0.0.1, port: 80, delay_loop: soon}\n",
			`virtual_servers[0].delay_loop: "soon" is not a duration`},
		{"merge key", "virtual_servers:\n  - <<: {port: 80}\n    address: 10.0.0.1\n",
			"merge keys (<<) are not supported"},
		{"gue port", "virtual_servers:\n  - {address: 10.0.0.1, port: 80, lvs_method: TUN, tunnel_type: gue}\n",
			"virtual_servers[0].tunnel_port: is required for a gue tunnel"},
		{"status", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    checks: [{type: http, status_code: 200-700}]\n",
			`virtual_servers[0].checks[0].status_code: "200-700" is not a status`},
		{"regex", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    checks: [{type: http, regex: \"(\"}]\n",
			"virtual_servers[0].checks[0].regex"},
		{"exec", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    real_servers: [{address: 10.1.0.1}]\n    checks: [{type: exec}]\n",
			"virtual_servers[0].checks[0].misc_path: is required for an exec check"},
		{"exec program", "virtual_servers:\n  - address: 10.0.0.1\n    port: 80\n    real_servers: [{address: 10.1.0.1}]\n    checks: [{type: exec, misc_path: [/nonexistent/prog]}]\n",
			`f.yaml:5:27: virtual_servers[0].checks[0].misc_path: "/nonexistent/prog": `},
		{"dns type", "virtual_servers:\n  - address: 10.0.0.1\n    port: 53\n    protocol: UDP\n    real_servers: [{address: 10.1.0.1}]\n    checks: [{type: dns, query_type: BOGUS}]\n",
			`virtual_servers[0].checks[0].query_type: "BOGUS"`},
		{"persistence", "virtual_servers:\n  - {address: 10.0.0.1, port: 80, persistence_granularity: 24}\n",
			"virtual_servers[0].persistence_granularity: applies to persistent virtual servers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%T is not an *Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got\n%s\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}

// TestManyErrors: every problem of a file is listed, the count past the
// first twenty.
func TestManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("virtual_servers:\n")
	for range 25 {
		b.WriteString("  - {address: nowhere, port: 80}\n")
	}
	_, err := Parse("f.yaml", []byte(b.String()))
	var es Errors
	if !errors.As(err, &es) || len(es) != 25 {
		t.Fatalf("%v", err)
	}
	if !strings.HasSuffix(err.Error(), "... and 5 more") {
		t.Errorf("%s", err)
	}
}

// TestBomb: aliases that expand a small file to millions of values
// are refused.
func TestBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("checks: &c [")
	for range 100 {
		b.WriteString("{type: tcp},")
	}
	b.WriteString("]\nreals: &r [")
	for range 100 {
		b.WriteString("{address: 10.0.0.1, checks: *c},")
	}
	b.WriteString("]\nvirtual_servers: [")
	for range 1000 {
		b.WriteString("{address: 10.0.0.1, port: 80, real_servers: *r},")
	}
	b.WriteString("]\n")
	_, err := Parse("f.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("%.300v", err)
	}
}

// TestParseVirtualServer: one virtual server alone, as a store keeps it,
// names its fields from its own root.
func TestParseVirtualServer(t *testing.T) {
	vs, err := ParseVirtualServer("key web", []byte("address: 2001:db8::10\nport: 443\nreal_servers: [{address: 2001:db8::1}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if vs.DisplayName() != "tcp-2001:db8::10-443" || vs.Backends()[0].Destination.Port != 443 {
		t.Errorf("%s %+v", vs.DisplayName(), vs.Backends())
	}
	_, err = ParseVirtualServer("key web", []byte("address: 2001:db8::10\nport: 443\nreal_servers: [{address: 10.0.0.1}]\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "key web:3:17: real_servers[0].address: 10.0.0.1 is ipv4") {
		t.Errorf("%v", err)
	}
}

// TestFWMarkFamily: a fwmark service takes its real servers' family, or
// the one given.
func TestFWMarkFamily(t *testing.T) {
	c, err := Parse("f", []byte(`virtual_servers:
  - {fwmark: 7, real_servers: [{address: "2001:db8::1", port: 80}]}
  - {fwmark: 8, ip_family: inet6, lvs_method: TUN, real_servers: [{address: 10.0.0.1}]}
  - {fwmark: 9}
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"fwmark 7 ipv6", "fwmark 8 ipv6", "fwmark 9 ipv4"} {
		if got := c.VirtualServers[i].Service().String(); got != want {
			t.Errorf("%d: %s, want %s", i, got, want)
		}
	}
	if c.VirtualServers[2].DisplayName() != "fwmark-9-inet" {
		t.Errorf("%s", c.VirtualServers[2].DisplayName())
	}
}

// TestReadFile: a file that can not be read is an error naming it.
func TestReadFile(t *testing.T) {
	_, err := Load("testdata/none.yaml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%v", err)
	}
}
