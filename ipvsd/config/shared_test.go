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
