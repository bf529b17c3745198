//go:build integration && linux

package keepalived_test

import (
	"fmt"
	"testing"
	"time"
)

// TestKernelKeepalived runs keepalived 2.2.7's checker in a namespace of
// its own, in front of two backends over veth: its table is what its
// configuration says, clients reach both backends through it, a backend
// that stops leaves the table within a few check intervals and comes
// back when it starts again, and keepalived removes its services when
// it stops.
func TestKernelKeepalived(t *testing.T) {
	l := newLab(t, 2)
	d := l.director()
	k := d.keepalived(fmt.Sprintf(`virtual_server %s 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 10.96.0.1 80 {
        weight 2
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.96.0.2 80 {
        weight 3
        HTTP_GET {
            url {
                path /health
            }
            connect_timeout 1
            retry 0
        }
    }
}
`, vip))
	both := "-A -t 10.99.1.1:80 -s wrr\n-a -t 10.99.1.1:80 -r 10.96.0.1:80 -m -w 2\n-a -t 10.99.1.1:80 -r 10.96.0.2:80 -m -w 3\n"
	// keepalived starts with every real server up: the table says
	// something only once the checks have run.
	l.backends[1].waitRequests(d.checkSource(l.backends[1]), 2, 30*time.Second)
	d.waitTable(both, 30*time.Second)
	if failed := d.get(10); failed != 0 {
		t.Errorf("%d of 10 requests through keepalived's director failed", failed)
	}
	for _, b := range l.backends {
		if b.requestsFrom(d.clientAddr()) == 0 {
			t.Errorf("backend %d had no request from the client", b.id)
		}
	}

	l.backends[1].down()
	d.waitTable("-A -t 10.99.1.1:80 -s wrr\n-a -t 10.99.1.1:80 -r 10.96.0.1:80 -m -w 2\n", 15*time.Second)
	l.backends[1].up()
	d.waitTable(both, 15*time.Second)

	k.stop(t)
	if got := d.table(); got != "" {
		t.Errorf("keepalived left its services when it stopped:\n%s", got)
	}
}
