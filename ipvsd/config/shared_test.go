package config

import (
	"testing"
)

// sharedConfig has two virtual servers whose real servers are the same
// two endpoints with the same check, and a third real server whose
// check differs only in its path.
const sharedConfig = `
virtual_servers:
  - address: 192.0.2.1
    port: 80
    delay_loop: 2s
    checks:
      - {type: http, path: /healthz}
    real_servers:
      - {address: 10.0.0.1, port: 8080}
      - {address: 10.0.0.2, port: 8080}
  - address: 192.0.2.2
    port: 80
    delay_loop: 2s
    checks:
      - {type: http, path: /healthz}
    real_servers:
      - {address: 10.0.0.1, port: 8080}
      - {address: 10.0.0.2, port: 8080}
      - address: 10.0.0.3
        port: 8080
        checks: [{type: http, path: /other}]
`

// TestSharedDefinitions: real servers whose checks resolve alike share
// one definition; others do not.
func TestSharedDefinitions(t *testing.T) {
	c, err := Parse("shared.yaml", []byte(sharedConfig))
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.VirtualServers[0].Backends(), c.VirtualServers[1].Backends()
	if a[0].Checks[0] != b[0].Checks[0] || a[1].Checks[0] != b[1].Checks[0] {
		t.Errorf("the same check of the same endpoint in two virtual servers is two definitions")
	}
	if a[0].Checks[0] == a[1].Checks[0] {
		t.Errorf("the checks of two endpoints share a definition")
	}
	if b[2].Checks[0] == b[1].Checks[0] || b[2].Checks[0].HTTP.Path != "/other" {
		t.Errorf("a real server's own check is %+v", b[2].Checks[0].HTTP)
	}
	if p := a[0].Checks[0]; p.Target.String() != "10.0.0.1:8080" || p.HTTP.Path != "/healthz" || p.Interval.String() != "2s" {
		t.Errorf("shared definition %+v", p)
	}
}

// TestCompact: a compacted configuration answers as before, without the
// real servers and checks as written.
func TestCompact(t *testing.T) {
	c, err := Parse("shared.yaml", []byte(sharedConfig))
	if err != nil {
		t.Fatal(err)
	}
	var before [][]Backend
	for i := range c.VirtualServers {
		before = append(before, c.VirtualServers[i].Backends())
	}
	c.Compact()
	for i := range c.VirtualServers {
		vs := &c.VirtualServers[i]
		if vs.RealServers != nil || vs.Checks != nil {
			t.Errorf("virtual server %d keeps %d real servers and %d checks as written", i, len(vs.RealServers), len(vs.Checks))
		}
		after := vs.Backends()
		if len(after) != len(before[i]) {
			t.Fatalf("virtual server %d: %d backends, %d before", i, len(after), len(before[i]))
		}
		for j := range after {
			if after[j].Destination != before[i][j].Destination || after[j].Checks[0] != before[i][j].Checks[0] {
				t.Errorf("virtual server %d backend %d changed", i, j)
			}
		}
		if vs.DisplayName() == "" || vs.Service().Port != 80 {
			t.Errorf("virtual server %d: %q %v", i, vs.DisplayName(), vs.Service())
		}
	}
}

// TestCompactInvalid: a virtual server that did not validate keeps its
// fields, which are all it has.
func TestCompactInvalid(t *testing.T) {
	vs := &VirtualServer{Address: "192.0.2.1", RealServers: []RealServer{{Address: "10.0.0.1"}}}
	vs.Compact()
	if len(vs.RealServers) != 1 {
		t.Errorf("an unresolved virtual server lost its real servers")
	}
}
