package procfs_test

import (
	"errors"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/internal/procfs"
)

// The table of package ipvs's types, which it builds the same way: its
// tags are the entries.
var table = procfs.NewSysctlTable[ipvs.Sysctls, ipvs.SysctlChanges]()

// TestSysctlNames pins the entries' names, every one the kernels of the
// matrix have, and the order they are written in.
func TestSysctlNames(t *testing.T) {
	want := strings.Fields(`conntrack conn_reuse_mode expire_nodest_conn expire_quiescent_template sloppy_tcp
		sloppy_sctp schedule_icmp ignore_tunneled cache_bypass nat_icmp_send pmtu_disc snat_reroute backup_only
		amemthresh am_droprate drop_entry drop_packet secure_tcp sync_version sync_ports sync_persist_mode
		sync_qlen_max sync_sock_size sync_threshold sync_refresh_period sync_retries run_estimation est_cpulist
		est_nice conn_max conn_lfactor svc_lfactor lblc_expiration lblcr_expiration debug_level`)
	if names := table.Names(); !slices.Equal(names, want) {
		t.Errorf("entries\n%v, want\n%v", names, want)
	}
}

func TestSysctlDecode(t *testing.T) {
	texts := map[string]string{
		"expire_nodest_conn": "7", "conn_reuse_mode": "1", "sync_threshold": "3\t50", "sync_qlen_max": "18446744073709551615",
		"sync_refresh_period": "86400", "est_cpulist": "0-1", "est_nice": "-5", "conn_lfactor": "-4", "sloppy_tcp": "0",
		"new_entry": "1 2",
	}
	given := maps.Clone(texts)
	s, absent, other, err := table.Decode(texts)
	if err != nil {
		t.Fatal(err)
	}
	want := ipvs.Sysctls{ExpireNodestConn: true, ConnReuseMode: 1, SyncThreshold: ipvs.SyncThreshold{Threshold: 3, Period: 50},
		SyncQlenMax: math.MaxUint64, SyncRefreshPeriod: 24 * time.Hour, EstCPUList: "0-1", EstNice: -5, ConnLFactor: -4}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("decoded\n%+v, want\n%+v", s, want)
	}
	if len(absent) != len(table.Names())-9 || slices.Contains(absent, "sloppy_tcp") || !slices.Contains(absent, "debug_level") {
		t.Errorf("absent %v, want every entry but the nine given", absent)
	}
	if !maps.Equal(other, map[string]string{"new_entry": "1 2"}) {
		t.Errorf("other %v, want new_entry alone", other)
	}
	if !maps.Equal(texts, given) {
		t.Errorf("texts changed to %v", texts)
	}
	if _, _, other, _ := table.Decode(map[string]string{"conntrack": "0"}); other != nil {
		t.Errorf("other %#v with every entry known, want nil", other)
	}
	for name, text := range map[string]string{"sync_threshold": "3", "conntrack": "yes", "sync_qlen_max": "-1", "amemthresh": ""} {
		if _, _, _, err := table.Decode(map[string]string{name: text}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s %q: error %v, want one naming it", name, text, err)
		}
	}
}

// TestSysctlChanges: what SetSysctls would write, and what it refuses
// before writing anything.
func TestSysctlChanges(t *testing.T) {
	ch := ipvs.SysctlChanges{ExpireNodestConn: new(true), Conntrack: new(false), SyncPorts: new(4), SyncQlenMax: new(uint64(math.MaxUint64)),
		SyncThreshold: new(ipvs.SyncThreshold{Threshold: 3}), SyncRefreshPeriod: new(time.Minute), EstCPUList: new("0-3,8"), EstNice: new(-20),
		ConnLFactor: new(8), Other: map[string]string{"zeta": "1 2", "alpha": ""}}
	writes, err := table.Writes(&ch, ch.Other)
	if err != nil {
		t.Fatal(err)
	}
	want := []procfs.SysctlWrite{{"conntrack", "0"}, {"expire_nodest_conn", "1"}, {"sync_ports", "4"}, {"sync_qlen_max", "18446744073709551615"},
		{"sync_threshold", "3 0"}, {"sync_refresh_period", "60"}, {"est_cpulist", "0-3,8"}, {"est_nice", "-20"}, {"conn_lfactor", "8"},
		{"alpha", ""}, {"zeta", "1 2"}}
	if !slices.Equal(writes, want) {
		t.Errorf("writes\n%v, want\n%v", writes, want)
	}
	for _, tt := range []struct {
		ch           ipvs.SysctlChanges
		field, value string
	}{
		{ipvs.SysctlChanges{DropEntry: new(4)}, "sysctl drop_entry", "4"},
		{ipvs.SysctlChanges{SecureTCP: new(-1)}, "sysctl secure_tcp", "-1"},
		{ipvs.SysctlChanges{SyncVersion: new(2)}, "sysctl sync_version", "2"},
		{ipvs.SysctlChanges{SyncPorts: new(3)}, "sysctl sync_ports", "3"},
		{ipvs.SysctlChanges{SyncPorts: new(0)}, "sysctl sync_ports", "0"},
		{ipvs.SysctlChanges{SyncRetries: new(4)}, "sysctl sync_retries", "4"},
		{ipvs.SysctlChanges{EstNice: new(20)}, "sysctl est_nice", "20"},
		{ipvs.SysctlChanges{ConnLFactor: new(-9)}, "sysctl conn_lfactor", "-9"},
		{ipvs.SysctlChanges{ConnMax: new(-1)}, "sysctl conn_max", "-1"},
		{ipvs.SysctlChanges{AmemThresh: new(math.MaxInt32 + 1)}, "sysctl amemthresh", "2147483648"},
		{ipvs.SysctlChanges{SyncThreshold: new(ipvs.SyncThreshold{Threshold: 5, Period: 3})}, "sysctl sync_threshold", "5 3"},
		{ipvs.SysctlChanges{SyncThreshold: new(ipvs.SyncThreshold{Threshold: -1})}, "sysctl sync_threshold", "-1 0"},
		{ipvs.SysctlChanges{SyncRefreshPeriod: new(1500 * time.Millisecond)}, "sysctl sync_refresh_period", "1.5s"},
		{ipvs.SysctlChanges{LBLCExpiration: new(-time.Second)}, "sysctl lblc_expiration", "-1s"},
		{ipvs.SysctlChanges{EstCPUList: new("0-3\n")}, "sysctl est_cpulist", `"0-3\n"`},
		{ipvs.SysctlChanges{Other: map[string]string{"../x": "1"}}, "sysctl name", `"../x"`},
		{ipvs.SysctlChanges{Other: map[string]string{"x": "1\n2"}}, "sysctl x", `"1\n2"`},
		{ipvs.SysctlChanges{Other: map[string]string{"sloppy_tcp": "1"}}, "sysctl sloppy_tcp", "SysctlChanges"},
	} {
		writes, err := table.Writes(&tt.ch, tt.ch.Other)
		var inv *procfs.SysctlError
		if !errors.As(err, &inv) || inv.Field != tt.field || !strings.Contains(inv.Reason, tt.value) || !errors.Is(err, os.ErrInvalid) || writes != nil {
			t.Errorf("%+v: writes %v, error %v, want none and one about %s %s", tt.ch, writes, err, tt.field, tt.value)
		}
	}
}

// fieldOf returns the field of Sysctls whose entry is name.
func fieldOf(t *testing.T, name string) reflect.StructField {
	t.Helper()
	for _, f := range reflect.VisibleFields(reflect.TypeFor[ipvs.Sysctls]()) {
		if strings.Split(f.Tag.Get("sysctl"), ",")[0] == name {
			return f
		}
	}
	t.Fatalf("no field has the entry %s", name)
	return reflect.StructField{}
}

// changesOf returns the SysctlChanges that writes the entries names as
// they are in s.
func changesOf(t *testing.T, s ipvs.Sysctls, names ...string) ipvs.SysctlChanges {
	t.Helper()
	var ch ipvs.SysctlChanges
	for _, name := range names {
		f := fieldOf(t, name)
		p := reflect.New(f.Type)
		p.Elem().Set(reflect.ValueOf(s).FieldByIndex(f.Index))
		reflect.ValueOf(&ch).Elem().FieldByName(f.Name).Set(p)
	}
	return ch
}

// TestSysctlRoundTrip: every kind of value decodes to what was encoded.
func TestSysctlRoundTrip(t *testing.T) {
	in := ipvs.Sysctls{SloppySCTP: true, AmemThresh: -5, SyncQlenMax: 100, SyncThreshold: ipvs.SyncThreshold{Threshold: 1, Period: 2},
		LBLCRExpiration: time.Hour, EstCPUList: "1", DebugLevel: 12, SyncPorts: 2}
	ch := changesOf(t, in, table.Names()...)
	writes, err := table.Writes(&ch, nil)
	if err != nil {
		t.Fatal(err)
	}
	texts := make(map[string]string)
	for _, w := range writes {
		texts[w.Name] = w.Text
	}
	out, absent, other, err := table.Decode(texts)
	if err != nil || absent != nil || other != nil {
		t.Fatalf("decoding %v: absent %v, other %v, error %v", texts, absent, other, err)
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
		for _, name := range table.Names() {
			s, _, _, err := table.Decode(map[string]string{name: text})
			if err != nil {
				continue
			}
			ch := changesOf(t, s, name)
			writes, err := table.Writes(&ch, nil)
			if err != nil {
				continue
			}
			again := writes[0].Text
			s2, _, _, err := table.Decode(map[string]string{name: again})
			if err != nil {
				t.Fatalf("%s: %q parsed, but not its reprint %q: %v", name, text, again, err)
			}
			if !reflect.DeepEqual(s, s2) {
				t.Fatalf("%s: %q read %+v, its reprint %q %+v", name, text, s, again, s2)
			}
		}
	})
}
