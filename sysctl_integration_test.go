//go:build integration && linux

package ipvs_test

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
)

// TestKernelSysctls: the entries each kernel has, read as the kernel
// prints them, in the client's namespace; a change in B leaves A as it
// was; a read-modify-write round trip; refusals.
func TestKernelSysctls(t *testing.T) {
	nsA, a := newClient(t)
	nsB, b := newClient(t)
	ctx := ctxT(t)
	// The lblc schedulers' entries exist while their modules are loaded.
	for _, s := range []string{"lblc", "lblcr"} {
		must(t, a.CreateService(ctx, ipvs.Service{Protocol: ipvs.ProtocolTCP, Address: netip.MustParseAddr("10.0.0.1"), Port: 80 + uint16(len(s)), Scheduler: s}))
	}
	before, err := a.Sysctls(ctx)
	must(t, err)
	t.Logf("A: %+v", before)
	var absent []string
	if !kernelAtLeast(6, 1) {
		absent = append(absent, "run_estimation")
	}
	if !kernelAtLeast(6, 2) {
		absent = append(absent, "est_cpulist", "est_nice")
	}
	if !kernelAtLeast(7, 0) {
		absent = append(absent, "conn_max", "conn_lfactor", "svc_lfactor")
	}
	absent = append(absent, "debug_level")
	if !slices.Equal(before.Absent, absent) || len(before.Other) != 0 {
		t.Errorf("absent %v and other %v, want absent %v and no other", before.Absent, before.Other, absent)
	}
	// Every present entry reads as the kernel prints it.
	for _, name := range strings.Fields(nsA.sh("ls /proc/sys/net/ipv4/vs")) {
		raw := strings.TrimSpace(nsA.sh("cat /proc/sys/net/ipv4/vs/" + name))
		if got := sysctlText(t, before, name); got != raw {
			t.Errorf("%s reads %q, the kernel prints %q", name, got, raw)
		}
	}

	// Read-modify-write in B.
	bBefore, err := b.Sysctls(ctx)
	must(t, err)
	ch := ipvs.SysctlChanges{ExpireNodestConn: new(true), ExpireQuiescentTemplate: new(true), SloppyTCP: new(true),
		ConnReuseMode: new(2), SyncThreshold: new(ipvs.SyncThreshold{Threshold: 4, Period: 60}), SyncRefreshPeriod: new(90 * time.Second),
		SyncPorts: new(4), SyncQlenMax: new(uint64(1000)), DropEntry: new(3), SyncRetries: new(2)}
	want := bBefore
	want.ExpireNodestConn, want.ExpireQuiescentTemplate, want.SloppyTCP = true, true, true
	want.ConnReuseMode, want.SyncThreshold, want.SyncRefreshPeriod = 2, ipvs.SyncThreshold{Threshold: 4, Period: 60}, 90*time.Second
	want.SyncPorts, want.SyncQlenMax, want.DropEntry, want.SyncRetries = 4, 1000, 3, 2
	if kernelAtLeast(6, 2) {
		ch.EstNice, want.EstNice = new(5), 5
	}
	must(t, b.SetSysctls(ctx, ch))
	bAfter, err := b.Sysctls(ctx)
	must(t, err)
	if !reflect.DeepEqual(bAfter, want) {
		t.Errorf("B after the change\n%+v, want\n%+v", bAfter, want)
	}
	if raw := strings.TrimSpace(nsB.sh("cat /proc/sys/net/ipv4/vs/sync_threshold")); raw != "4\t60" {
		t.Errorf("B's sync_threshold is %q", raw)
	}
	after, err := a.Sysctls(ctx)
	must(t, err)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("A changed with B:\n%+v, was\n%+v", after, before)
	}

	// Refused by the client: nothing written.
	err = b.SetSysctls(ctx, ipvs.SysctlChanges{SloppySCTP: new(true), SyncPorts: new(3)})
	wantErr(t, err, os.ErrInvalid)
	if s, _ := b.Sysctls(ctx); s.SloppySCTP {
		t.Errorf("sloppy_sctp written along with a refused value")
	}
	// Refused by the kernel, or absent: the other entries are written.
	err = b.SetSysctls(ctx, ipvs.SysctlChanges{SloppySCTP: new(true), ConnMax: new(math.MaxInt32), Other: map[string]string{"nosuch": "1"}})
	if kernelAtLeast(7, 0) {
		wantErr(t, err, syscall.EINVAL, os.ErrNotExist)
	} else {
		wantErr(t, err, os.ErrNotExist)
	}
	if !strings.Contains(err.Error(), "conn_max") || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("error %v does not name both entries", err)
	}
	var ie *ipvs.Error
	if !errors.As(err, &ie) {
		t.Errorf("error %v is not an *ipvs.Error", err)
	}
	if s, _ := b.Sysctls(ctx); !s.SloppySCTP {
		t.Errorf("sloppy_sctp not written along with a refused entry")
	}
}

// sysctlText prints the field of s for the entry name as the kernel does.
func sysctlText(t *testing.T, s ipvs.Sysctls, name string) string {
	t.Helper()
	typ := reflect.TypeOf(s)
	for i := range typ.NumField() {
		if tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("sysctl"), ","); tag == name {
			switch v := reflect.ValueOf(s).Field(i).Interface().(type) {
			case bool:
				if v {
					return "1"
				}
				return "0"
			case time.Duration:
				return fmt.Sprint(int64(v / time.Second))
			case ipvs.SyncThreshold:
				return fmt.Sprintf("%d\t%d", v.Threshold, v.Period)
			default:
				return fmt.Sprint(v)
			}
		}
	}
	return s.Other[name]
}
