package ipvs

import (
	"errors"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSysctlNames pins the entries' names, every one the kernels of the
// matrix have, and the order they are written in.
func TestSysctlNames(t *testing.T) {
	var names []string
	for _, e := range sysctlEntries {
		names = append(names, e.name)
	}
	want := strings.Fields(`conntrack conn_reuse_mode expire_nodest_conn expire_quiescent_template sloppy_tcp
		sloppy_sctp schedule_icmp ignore_tunneled cache_bypass nat_icmp_send pmtu_disc snat_reroute backup_only
		amemthresh am_droprate drop_entry drop_packet secure_tcp sync_version sync_ports sync_persist_mode
		sync_qlen_max sync_sock_size sync_threshold sync_refresh_period sync_retries run_estimation est_cpulist
		est_nice conn_max conn_lfactor svc_lfactor lblc_expiration lblcr_expiration debug_level`)
	if !slices.Equal(names, want) {
		t.Errorf("entries\n%v, want\n%v", names, want)
	}
}

func entryNamed(t *testing.T, name string) *sysctlEntry {
	t.Helper()
	i := slices.IndexFunc(sysctlEntries, func(e sysctlEntry) bool { return e.name == name })
	if i < 0 {
		t.Fatalf("no entry %s", name)
	}
	return &sysctlEntries[i]
}

func TestSysctlDecode(t *testing.T) {
	var s Sysctls
	for name, text := range map[string]string{
		"expire_nodest_conn": "7", "conn_reuse_mode": "1", "sync_threshold": "3\t50", "sync_qlen_max": "18446744073709551615",
		"sync_refresh_period": "86400", "est_cpulist": "0-1", "est_nice": "-5", "conn_lfactor": "-4", "sloppy_tcp": "0",
	} {
		if err := entryNamed(t, name).decode(&s, text); err != nil {
			t.Errorf("%s %q: %v", name, text, err)
		}
	}
	want := Sysctls{ExpireNodestConn: true, ConnReuseMode: 1, SyncThreshold: SyncThreshold{3, 50}, SyncQlenMax: math.MaxUint64,
		SyncRefreshPeriod: 24 * time.Hour, EstCPUList: "0-1", EstNice: -5, ConnLFactor: -4}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("decoded\n%+v, want\n%+v", s, want)
	}
	for name, text := range map[string]string{"sync_threshold": "3", "conntrack": "yes", "sync_qlen_max": "-1", "amemthresh": ""} {
		if err := entryNamed(t, name).decode(&s, text); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s %q: error %v, want one naming it", name, text, err)
		}
	}
}

// TestSysctlChanges: what SetSysctls would write, and what it refuses
// before writing anything.
func TestSysctlChanges(t *testing.T) {
	ch := SysctlChanges{ExpireNodestConn: new(true), Conntrack: new(false), SyncPorts: new(4), SyncQlenMax: new(uint64(math.MaxUint64)),
		SyncThreshold: new(SyncThreshold{3, 0}), SyncRefreshPeriod: new(time.Minute), EstCPUList: new("0-3,8"), EstNice: new(-20),
		ConnLFactor: new(8), Other: map[string]string{"zeta": "1 2", "alpha": ""}}
	writes, err := ch.writes()
	if err != nil {
		t.Fatal(err)
	}
	want := []sysctlWrite{{"conntrack", "0"}, {"expire_nodest_conn", "1"}, {"sync_ports", "4"}, {"sync_qlen_max", "18446744073709551615"},
		{"sync_threshold", "3 0"}, {"sync_refresh_period", "60"}, {"est_cpulist", "0-3,8"}, {"est_nice", "-20"}, {"conn_lfactor", "8"},
		{"alpha", ""}, {"zeta", "1 2"}}
	if !slices.Equal(writes, want) {
		t.Errorf("writes\n%v, want\n%v", writes, want)
	}
	for _, tt := range []struct {
		ch           SysctlChanges
		field, value string
	}{
		{SysctlChanges{DropEntry: new(4)}, "sysctl drop_entry", "4"},
		{SysctlChanges{SecureTCP: new(-1)}, "sysctl secure_tcp", "-1"},
		{SysctlChanges{SyncVersion: new(2)}, "sysctl sync_version", "2"},
		{SysctlChanges{SyncPorts: new(3)}, "sysctl sync_ports", "3"},
		{SysctlChanges{SyncPorts: new(0)}, "sysctl sync_ports", "0"},
		{SysctlChanges{SyncRetries: new(4)}, "sysctl sync_retries", "4"},
		{SysctlChanges{EstNice: new(20)}, "sysctl est_nice", "20"},
		{SysctlChanges{ConnLFactor: new(-9)}, "sysctl conn_lfactor", "-9"},
		{SysctlChanges{ConnMax: new(-1)}, "sysctl conn_max", "-1"},
		{SysctlChanges{AmemThresh: new(math.MaxInt32 + 1)}, "sysctl amemthresh", "2147483648"},
		{SysctlChanges{SyncThreshold: new(SyncThreshold{5, 3})}, "sysctl sync_threshold", "5 3"},
		{SysctlChanges{SyncThreshold: new(SyncThreshold{-1, 0})}, "sysctl sync_threshold", "-1 0"},
		{SysctlChanges{SyncRefreshPeriod: new(1500 * time.Millisecond)}, "sysctl sync_refresh_period", "1.5s"},
		{SysctlChanges{LBLCExpiration: new(-time.Second)}, "sysctl lblc_expiration", "-1s"},
		{SysctlChanges{EstCPUList: new("0-3\n")}, "sysctl est_cpulist", `"0-3\n"`},
		{SysctlChanges{Other: map[string]string{"../x": "1"}}, "sysctl name", `"../x"`},
		{SysctlChanges{Other: map[string]string{"x": "1\n2"}}, "sysctl x", `"1\n2"`},
		{SysctlChanges{Other: map[string]string{"sloppy_tcp": "1"}}, "sysctl sloppy_tcp", "SysctlChanges"},
	} {
		_, err := tt.ch.writes()
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != tt.field || !strings.Contains(inv.Reason, tt.value) || !errors.Is(err, os.ErrInvalid) {
			t.Errorf("%+v: error %v, want one about %s %s", tt.ch, err, tt.field, tt.value)
		}
	}
}

// TestSysctlRoundTrip: every kind of value decodes to what was encoded.
func TestSysctlRoundTrip(t *testing.T) {
	in := Sysctls{SloppySCTP: true, AmemThresh: -5, SyncQlenMax: 100, SyncThreshold: SyncThreshold{1, 2},
		LBLCRExpiration: time.Hour, EstCPUList: "1", DebugLevel: 12, SyncPorts: 2}
	var out Sysctls
	for _, e := range sysctlEntries {
		text, err := e.encode(reflect.ValueOf(in).Field(e.field).Interface())
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if err := e.decode(&out, text); err != nil {
			t.Fatalf("%s %q: %v", e.name, text, err)
		}
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip\n%+v, got\n%+v", in, out)
	}
}

// FuzzSysctlDecode parses arbitrary text as each entry's, seeded from what
// the kernels print, and checks that a value that parses and is valid to
// write prints back to one that parses the same.
func FuzzSysctlDecode(f *testing.F) {
	for _, seed := range []string{"0", "1", "7", "-4", "1024", "7301", "18446744073709551615", "3\t50", "86400", "0-1", "1073741824", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, e := range sysctlEntries {
			var s Sysctls
			if e.decode(&s, text) != nil {
				continue
			}
			v := reflect.ValueOf(s).Field(e.field).Interface()
			again, err := e.encode(v)
			if err != nil {
				continue
			}
			var s2 Sysctls
			if err := e.decode(&s2, again); err != nil {
				t.Fatalf("%s: %q parsed, but not its reprint %q: %v", e.name, text, again, err)
			}
			if v2 := reflect.ValueOf(s2).Field(e.field).Interface(); v2 != v {
				t.Fatalf("%s: %q read %v, its reprint %q %v", e.name, text, v, again, v2)
			}
		}
	})
}
