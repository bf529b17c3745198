package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ipvs-go/ipvs/ipvsd/director"
	"github.com/ipvs-go/ipvs/reconcile"
)

// TestSynced: a sync's writes, refusals and drift land in their
// counters, and a failed sync in the error count.
func TestSynced(t *testing.T) {
	m := New()
	create := reconcile.Change{Kind: reconcile.KindCreateDestination}
	update := reconcile.Change{Kind: reconcile.KindUpdateDestination}
	m.Synced(director.SyncReport{Duration: time.Millisecond, Changes: []reconcile.Change{create, update, update},
		Failed: []*reconcile.ChangeError{{Change: update, Err: errors.New("no memory")}}, Drift: true})
	m.Synced(director.SyncReport{Duration: time.Millisecond, Err: errors.New("no IPVS")})
	m.Reloaded(false)
	want := `
# HELP ipvsd_changes_total Writes to the table planned, by kind ("create destination", ...), those refused included.
# TYPE ipvsd_changes_total counter
ipvsd_changes_total{kind="create destination"} 1
ipvsd_changes_total{kind="update destination"} 2
# HELP ipvsd_config_last_reload_successful 1 if the last reload was put in force, 0 if it was refused.
# TYPE ipvsd_config_last_reload_successful gauge
ipvsd_config_last_reload_successful 0
# HELP ipvsd_drift_repairs_total Syncs that repaired a table someone else had changed.
# TYPE ipvsd_drift_repairs_total counter
ipvsd_drift_repairs_total 1
# HELP ipvsd_syncs_total Syncs, by result: ok, or error when the table could not be read or planned.
# TYPE ipvsd_syncs_total counter
ipvsd_syncs_total{result="error"} 1
ipvsd_syncs_total{result="ok"} 1
# HELP ipvsd_write_errors_total Writes the kernel refused, by kind; each is tried again at the next sync.
# TYPE ipvsd_write_errors_total counter
ipvsd_write_errors_total{kind="update destination"} 1
`
	err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "ipvsd_changes_total", "ipvsd_config_last_reload_successful",
		"ipvsd_drift_repairs_total", "ipvsd_syncs_total", "ipvsd_write_errors_total")
	if err != nil {
		t.Error(err)
	}
}
