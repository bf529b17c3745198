package keepalived

import (
	"strings"
	"testing"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// convert parses conf and converts it, failing the test on a parse
// error, and returns the virtual servers and every diagnostic.
func convert(t *testing.T, conf string) ([]config.VirtualServer, string) {
	t.Helper()
	c, err := parse(t, map[string]string{"/k.conf": conf})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	f, diags := Convert(c)
	return f.VirtualServers, c.Diagnostics.String() + diags.String()
}

// TestConvertFixUps: keepalived's corrections of a configuration are
// made, and said, with the line.
func TestConvertFixUps(t *testing.T) {
	vss, diags := convert(t, `virtual_server 10.0.0.1 80 {
    lb_kind DR
    quorum 10
    hysteresis 7
    real_server 10.0.1.1 8080 {
        weight 3
    }
    real_server 10.0.1.1 80 {}
    real_server 10.0.1.2 {
        weight 2
    }
}
virtual_server 10.0.0.2 0 {
    protocol TCP
    real_server 10.0.1.3 80 {}
}
virtual_server 10.0.0.3 80 {
    protocol TCP
}
`)
	if len(vss) != 2 {
		t.Fatalf("%d virtual servers, want 2 (the one without real servers left out)", len(vss))
	}
	vs := vss[0]
	if vs.Protocol != "UDP" || *vs.Quorum != 5 || vs.Hysteresis != 4 || vs.Scheduler != "wlc" || vs.Method != "DR" {
		t.Errorf("protocol %q quorum %d hysteresis %d scheduler %q method %q", vs.Protocol, *vs.Quorum, vs.Hysteresis, vs.Scheduler, vs.Method)
	}
	if len(vs.RealServers) != 2 || vs.RealServers[0].Port != 80 || *vs.RealServers[0].Weight != 3 || vs.RealServers[1].Port != 0 {
		t.Errorf("real servers: %+v", vs.RealServers)
	}
	if vss[1].PersistenceTimeout == nil || *vss[1].PersistenceTimeout != config.Duration(360e9) {
		t.Errorf("a service of every port is not persistent for 360s: %v", vss[1].PersistenceTimeout)
	}
	for _, want := range []string{
		"/k.conf:1: warning: protocol: is not set: keepalived then makes a UDP service",
		"/k.conf:1: warning: quorum: 10 is more than the real servers' total weight, 5",
		"/k.conf:1: warning: hysteresis: 7 is not below the quorum, 5",
		"/k.conf:5: warning: real_server: port 8080 differs from the virtual server's, 80",
		"/k.conf:8: warning: real_server: 10.0.1.1:80 is the real server at /k.conf:5 too",
		"/k.conf:13: warning: persistence_timeout: is not set for a service of every port",
		"/k.conf:17: warning: virtual_server: has no real servers",
	} {
		if !strings.Contains(diags, want) {
			t.Errorf("no diagnostic %q in:\n%s", want, diags)
		}
	}
}

// TestConvertChecks: each kind's keepalived defaults are written where
// ipvsd's differ and nothing above the checker set them.
func TestConvertChecks(t *testing.T) {
	vss, _ := convert(t, `virtual_server 10.0.0.1 53 {
    protocol UDP
    delay_loop 4
    real_server 10.0.1.1 53 {
        DNS_CHECK {}
        MISC_CHECK {
            misc_path "/bin/true x"
        }
        HTTP_GET {
            url {
                path /a
            }
        }
    }
    real_server 10.0.1.2 53 {
        retry 2
        delay_before_retry 1.5
        DNS_CHECK {}
        MISC_CHECK {
            misc_path /bin/true
            misc_timeout 9
        }
    }
}
`)
	one, two := vss[0].RealServers[0].Checks, vss[0].RealServers[1].Checks
	if c := one[0]; c.Type != "dns" || *c.Retry != 3 || *c.DelayBeforeRetry != config.Duration(4e9) || c.QueryType != "SOA" || c.QueryName != "." {
		t.Errorf("DNS_CHECK with keepalived's defaults: %+v", c)
	}
	if c := one[1]; c.Type != "exec" || *c.Retry != 0 || *c.MiscTimeout != config.Duration(4e9) || strings.Join(c.MiscPath.Args, "|") != "/bin/true|x" {
		t.Errorf("MISC_CHECK with keepalived's defaults: %+v", c)
	}
	if c := one[2]; c.Type != "http" || *c.DelayBeforeRetry != config.Duration(3e9) || c.Retry != nil {
		t.Errorf("HTTP_GET with keepalived's defaults: %+v", c)
	}
	if c := two[0]; c.Retry != nil || c.DelayBeforeRetry != nil {
		t.Errorf("a DNS_CHECK under a real server that sets its timing takes it: %+v", c)
	}
	if c := two[1]; c.Retry != nil || *c.MiscTimeout != config.Duration(9e9) {
		t.Errorf("a MISC_CHECK under a real server that sets retry: %+v", c)
	}
}

// TestConvertGroupFwmark: a group's fwmark keeps the group's family, or
// the virtual server's, and a DR real server has no port on it.
func TestConvertGroupFwmark(t *testing.T) {
	vss, _ := convert(t, `virtual_server_group G {
    fwmark 5 inet6
    fwmark 6
    2001:db8::1 80
}
virtual_server group G {
    ip_family inet6
    protocol TCP
    lb_kind DR
    real_server 2001:db8:1::1 80 {}
}
`)
	if len(vss) != 3 || vss[0].FWMark != 5 || vss[0].Family != "inet6" || vss[1].FWMark != 6 || vss[1].Family != "inet6" || vss[2].Address != "2001:db8::1" {
		t.Fatalf("virtual servers: %+v", vss)
	}
	if vss[0].RealServers[0].Port != 0 || vss[2].RealServers[0].Port != 80 || vss[0].Protocol != "" || vss[2].Protocol != "TCP" {
		t.Errorf("ports and protocols: %+v", vss)
	}
}
