package director

import (
	"testing"

	"github.com/ipvs-go/ipvs/ipvsd/check"
)

// countingChecks is fakeChecks that records the definitions each Set
// was given.
type countingChecks struct {
	*fakeChecks
	given []int
}

func (c *countingChecks) Set(defs []check.Definition) error {
	c.given = append(c.given, len(defs))
	return c.fakeChecks.Set(defs)
}

// TestSharedChecksGivenOnce: virtual servers whose real servers share
// their endpoints and check give the checks each definition once, and
// every real server still follows its check.
func TestSharedChecksGivenOnce(t *testing.T) {
	const yaml = `
virtual_servers:
  - address: 192.0.2.1
    port: 80
    checks: [{type: tcp}]
    real_servers:
      - {address: 10.0.0.1, port: 8080}
      - {address: 10.0.0.2, port: 8080}
  - address: 192.0.2.2
    port: 80
    checks: [{type: tcp}]
    real_servers:
      - {address: 10.0.0.1, port: 8080}
      - {address: 10.0.0.2, port: 8080}
`
	r := newRig(t, "virtual_servers: []")
	cc := &countingChecks{fakeChecks: r.checks}
	r.d.checks = cc
	r.apply(yaml)
	if len(cc.given) != 1 || cc.given[0] != 2 {
		t.Fatalf("Set given %v definitions, want [2]: one per endpoint", cc.given)
	}
	r.checks.setHealth(t, "10.0.0.2:8080", check.Up, -1)
	r.checks.setHealth(t, "10.0.0.1:8080", check.Down, -1)
	r.sync()
	r.wantTable("tcp 192.0.2.1:80: 10.0.0.2:8080/1\ntcp 192.0.2.2:80: 10.0.0.2:8080/1")
}
