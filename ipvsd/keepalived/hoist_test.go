package keepalived

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// hoistConf has a virtual server whose real servers repeat one checker,
// one of them with a virtualhost and a port of its own; one whose
// checkers differ; and one where a real server has none.
const hoistConf = `virtual_server 10.0.0.1 80 {
    protocol TCP
    delay_loop 2
    real_server 10.0.1.1 8080 {
        HTTP_GET {
            url {
                path /health
            }
            connect_timeout 1
        }
    }
    real_server 10.0.1.2 8081 {
        virtualhost b.example
        HTTP_GET {
            url {
                path /health
            }
            connect_timeout 1
        }
    }
    real_server 10.0.1.3 8080 {
        HTTP_GET {
            url {
                path /health
            }
            connect_timeout 1
        }
    }
}
virtual_server 10.0.0.2 80 {
    protocol TCP
    real_server 10.0.1.1 80 {
        TCP_CHECK {}
    }
    real_server 10.0.1.2 80 {
        TCP_CHECK {
            connect_timeout 2
        }
    }
}
virtual_server 10.0.0.3 80 {
    protocol TCP
    real_server 10.0.1.1 80 {
        TCP_CHECK {}
    }
    real_server 10.0.1.2 80 {}
}
`

// TestConvertHoistsChecks: the checks every real server of a virtual
// server repeats are written once, on the virtual server; checks that
// differ, or a real server without any, stay on the real servers.
func TestConvertHoistsChecks(t *testing.T) {
	vss, diags := convert(t, hoistConf)
	if len(vss) != 3 {
		t.Fatalf("%d virtual servers, want 3\n%s", len(vss), diags)
	}
	if c := vss[0].Checks; len(c) != 1 || c[0].Type != "http" || c[0].Path != "/health" {
		t.Errorf("the repeated checker is not the virtual server's: %+v", c)
	}
	for i, rs := range vss[0].RealServers {
		if rs.Checks != nil {
			t.Errorf("real server %d keeps checks of its own: %+v", i, rs.Checks)
		}
	}
	for _, vs := range vss[1:] {
		if vs.Checks != nil {
			t.Errorf("%s: checks that differ moved up: %+v", vs.Address, vs.Checks)
		}
		for i, rs := range vs.RealServers {
			if rs.Checks == nil {
				t.Errorf("%s: real server %d lost its checks", vs.Address, i)
			}
		}
	}
	if got := vss[2].RealServers[1].Checks; got == nil || len(got) != 0 {
		t.Errorf("a real server without checkers is not always up (an empty list): %#v", got)
	}
}

// TestHoistedChecksMeanTheSame: ipvsd resolves the hoisted configuration
// into the same real servers and checks as the one with each real
// server's checks written out.
func TestHoistedChecksMeanTheSame(t *testing.T) {
	c, err := parse(t, map[string]string{"/k.conf": hoistConf})
	if err != nil {
		t.Fatal(err)
	}
	hoisted, _ := Convert(c)
	spelled := &config.File{}
	for _, vs := range hoisted.VirtualServers {
		vs.RealServers = append([]config.RealServer(nil), vs.RealServers...)
		for i := range vs.RealServers {
			if vs.RealServers[i].Checks == nil {
				vs.RealServers[i].Checks = vs.Checks
			}
		}
		vs.Checks = nil
		spelled.VirtualServers = append(spelled.VirtualServers, vs)
	}
	read := func(f *config.File) *config.Config {
		t.Helper()
		b, err := marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse("k.yaml", b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		return cfg
	}
	a, b := read(hoisted), read(spelled)
	for i := range a.VirtualServers {
		ba, bb := a.VirtualServers[i].Backends(), b.VirtualServers[i].Backends()
		if !reflect.DeepEqual(ba, bb) {
			t.Errorf("virtual server %d: hoisted %+v\nspelled out %+v", i, ba, bb)
		}
	}
	if hs := a.VirtualServers[0].Backends()[1].Checks[0]; hs.HTTP.Host != "b.example" || hs.Timeout != 1e9 || hs.Target.Port() != 8081 {
		t.Errorf("the second real server's check is not resolved for it: %+v", hs)
	}
}

// TestHoistedCheckErrorsNameTheLine: ipvsd's refusal of a hoisted check
// names the checker's line in the input.
func TestHoistedCheckErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "k.conf")
	conf := "virtual_server fwmark 1 {\n lb_kind DR\n real_server 10.0.1.1 {\n  TCP_CHECK {}\n }\n real_server 10.0.1.2 {\n  TCP_CHECK {}\n }\n}\n"
	if err := os.WriteFile(name, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Import(name, Options{})
	if err == nil {
		t.Fatalf("imported a check with no port to go to:\n%s", res.YAML)
	}
	if !strings.Contains(err.Error(), name+":4: error: ipvsd cannot take it: virtual_servers[0].checks[0].connect_port") {
		t.Errorf("the error does not name the checker's line:\n%v", err)
	}
}
