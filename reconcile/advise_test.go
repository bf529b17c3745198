package reconcile

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
)

func TestAdvise(t *testing.T) {
	persistent := tcp("10.0.0.1", 80)
	persistent.Flags, persistent.Timeout = ipvs.FlagPersistent, time.Minute
	current := readBack([]ipvs.VirtualServer{
		vs(udp("10.0.0.2", 53), dst("10.1.0.1:53", 1), dst("10.1.0.2:53", 1)),
		vs(persistent, conns(dst("10.1.0.1:80", 1), 1, 0, 1)),
	})
	desired := []ipvs.VirtualServer{vs(udp("10.0.0.2", 53)), vs(persistent)}
	p := mustCompute(t, current, desired, Options{})
	var got []string
	for _, a := range advise(p, &ipvs.Sysctls{}) {
		got = append(got, a.Sysctl)
	}
	if want := []string{"expire_nodest_conn", "conn_reuse_mode", "expire_quiescent_template"}; !slices.Equal(got, want) {
		t.Errorf("advisories %v, want %v", got, want)
	}
	if a := advise(p, &ipvs.Sysctls{})[0].String(); !strings.Contains(a, "10.1.0.1:53 of udp 10.0.0.2:53 and 1 more") {
		t.Errorf("advisory %q names no example", a)
	}
	if a := advise(p, &ipvs.Sysctls{ExpireNodestConn: true, ExpireQuiescentTemplate: true, ConnReuseMode: 1}); len(a) != 0 {
		t.Errorf("advisories under helpful settings: %v", a)
	}
	if a := advise(mustCompute(t, current, current, Options{}), &ipvs.Sysctls{}); len(a) != 0 {
		t.Errorf("advisories of an empty plan: %v", a)
	}
	if a := advise(p, &ipvs.Sysctls{Absent: []string{"expire_nodest_conn", "conn_reuse_mode", "expire_quiescent_template"}}); len(a) != 0 {
		t.Errorf("advisories on sysctls the kernel lacks: %v", a)
	}
	// Compute advises from Options.Sysctls, and only then.
	if p := mustCompute(t, current, desired, Options{Sysctls: &ipvs.Sysctls{ConnReuseMode: 1, ExpireQuiescentTemplate: true}}); len(p.Advisories()) != 1 ||
		!strings.Contains(p.String(), "# advisory: expire_nodest_conn=0: ") {
		t.Errorf("plan with sysctls:\n%s", p)
	}
	if len(p.Advisories()) != 0 {
		t.Errorf("advisories without sysctls: %v", p.Advisories())
	}
}
