package config

import (
	"os"
	"testing"
)

// FuzzParse: no input makes Parse panic, and what it accepts has every
// virtual server resolved.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../ipvsd.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Add([]byte("virtual_servers: []\n"))
	f.Add([]byte("virtual_servers: [{fwmark: 1, real_servers: [{address: '::1', port: 1}]}]\n"))
	f.Add([]byte("virtual_servers: [{address: 10.0.0.1, port: 80, checks: [{type: udp, require_reply: 'x1 02'}]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		for i := range c.VirtualServers {
			vs := &c.VirtualServers[i]
			_ = vs.Service()
			if len(vs.Backends()) != len(vs.RealServers) {
				t.Fatalf("%d backends of %d real servers", len(vs.Backends()), len(vs.RealServers))
			}
		}
	})
}
