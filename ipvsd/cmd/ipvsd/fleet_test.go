package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ipvs-go/ipvs/ipvsd/daemon"
	"github.com/ipvs-go/ipvs/ipvsd/fleet"
	"github.com/ipvs-go/ipvs/ipvsd/fleet/etcdtest"
)

// fleetRun runs an ipvsd fleet command line against etcd.
func fleetRun(t *testing.T, endpoint string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append([]string{"fleet", "--etcd.endpoints=" + endpoint, "--etcd.prefix=/t"}, args...)
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// fleetConfig is a fleet's configuration: one virtual server, its real
// server on port, without checks.
func fleetConfig(port int) string {
	return fmt.Sprintf("virtual_servers:\n  - name: web\n    address: 192.0.2.10\n    port: 80\n    checks: []\n"+
		"    real_servers: [{address: 127.0.0.1, port: %d}]\n", port)
}

// withFleet makes the daemon a director of the fleet at endpoint, with
// the source the command line would give it.
func withFleet(t *testing.T, endpoint string) func(*daemon.Config) {
	return func(c *daemon.Config) {
		app := kingpin.New("ipvsd", "")
		d := newDaemonCommand(app)
		if _, err := app.Parse([]string{"run", "--etcd.endpoints=" + endpoint, "--etcd.prefix=/t", "--etcd.lease-ttl=3s",
			"--etcd.start-timeout=2s", "--etcd.dial-timeout=2s"}); err != nil {
			t.Fatal(err)
		}
		src, err := d.fleet.source(c.StateDir, c.Logger)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { src.Close() })
		c.Source = src
	}
}

// TestFleetDaemon: ipvsd run with --etcd.endpoints, written to by
// ipvsd fleet apply, read by ipvsd fleet status and its API.
func TestFleetDaemon(t *testing.T) {
	e := etcdtest.New(t)
	dir := t.TempDir()
	write := func(name, yaml string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := fleetConfig(1)
	fleetFile := write("fleet.yaml", cfg)
	if code, out, errs := fleetRun(t, e.Endpoint(), "diff", fleetFile); code != 0 || !strings.Contains(out, "+ web (new)") {
		t.Fatalf("diff: %d %s %s", code, out, errs)
	}
	if code, out, errs := fleetRun(t, e.Endpoint(), "apply", fleetFile); code != 0 || !strings.Contains(out, "applied: 1 changes") {
		t.Fatalf("apply: %d %s %s", code, out, errs)
	}
	// The director's own file: its settings only.
	r := startDaemon(t, "director: {node: d1, sync_interval: 100ms}\nvirtual_servers: []\n", withFleet(t, e.Endpoint()))
	r.eventually("the fleet's virtual server in the table", func() bool { return strings.Contains(r.weights(), "127.0.0.1:1/") })
	if st := fleetStatus(r); !st.Connected || st.Selected != 1 {
		t.Fatalf("/api/v1/fleet: %+v", st)
	}
	var status struct {
		Node  string       `json:"node"`
		Fleet fleet.Status `json:"fleet"`
	}
	if code, body := r.get("/api/v1/status"); code != 200 || json.Unmarshal([]byte(body), &status) != nil || status.Fleet.Prefix != "/t" || status.Node != "d1" {
		t.Errorf("/api/v1/status: %d %s", code, body)
	}
	// A change reaches it; the fleet's status shows it current.
	fleetFile = write("fleet.yaml", fleetConfig(2))
	if code, out, errs := fleetRun(t, e.Endpoint(), "apply", fleetFile); code != 0 {
		t.Fatalf("apply: %d %s %s", code, out, errs)
	}
	r.eventually("the change in the table", func() bool { return strings.Contains(r.weights(), "127.0.0.1:2/") })
	r.eventually("fleet status says d1 is current", func() bool {
		_, out, _ := fleetRun(t, e.Endpoint(), "status")
		return strings.Contains(out, "d1") && strings.Contains(out, "current")
	})
	_, out, _ := fleetRun(t, e.Endpoint(), "--json", "status")
	var f fleet.Fleet
	if err := json.Unmarshal([]byte(out), &f); err != nil || len(f.Directors) != 1 || f.Directors[0].Node != "d1" {
		t.Fatalf("status --json: %v %s", err, out)
	}
	// A director file with virtual servers is refused: they are the fleet's.
	if _, _, err := fleet.ReadDirectorFile(write("both.yaml", "director: {node: x}\n"+cfg)); err == nil || !strings.Contains(err.Error(), "fleet apply") {
		t.Errorf("a director file with virtual servers: %v", err)
	}
	// An empty configuration needs --allow-empty.
	empty := write("empty.yaml", "virtual_servers: []\n")
	if code, _, errs := fleetRun(t, e.Endpoint(), "apply", empty); code == 0 || !strings.Contains(errs, "--allow-empty") {
		t.Errorf("an empty apply: %d %s", code, errs)
	}
}

// TestFleetDaemonStartsFromItsCopy: etcd gone at a restart, the daemon
// starts from the local copy in its state directory.
func TestFleetDaemonStartsFromItsCopy(t *testing.T) {
	e := etcdtest.New(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "fleet.yaml")
	if err := os.WriteFile(p, []byte(fleetConfig(1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := fleetRun(t, e.Endpoint(), "apply", p); code != 0 {
		t.Fatalf("apply: %d %s %s", code, out, errs)
	}
	state := filepath.Join(dir, "state")
	inState := func(c *daemon.Config) { c.StateDir = state }
	r := startDaemon(t, "director: {node: d1, sync_interval: 100ms}\nvirtual_servers: []\n", inState, withFleet(t, e.Endpoint()))
	copyFile := filepath.Join(state, fleet.CopyFile)
	r.eventually("the local copy", func() bool { _, err := os.Stat(copyFile); return err == nil })
	r.stop()
	<-r.done
	r.done <- nil
	e.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The same state directory, without etcd.
	r2 := startDaemon(t, "director: {node: d1, sync_interval: 100ms}\nvirtual_servers: []\n", inState, withFleet(t, e.Endpoint()))
	r2.eventually("the copy's virtual server in the table", func() bool { return strings.Contains(r2.weights(), "127.0.0.1:1/") })
	if st := fleetStatus(r2); st.Connected || st.Revision == 0 || st.Selected != 1 {
		t.Errorf("/api/v1/fleet without etcd: %+v", st)
	}
	if err := e.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	r2.eventually("connected again", func() bool { return fleetStatus(r2).Connected })
}

func fleetStatus(r *daemonRig) fleet.Status {
	r.t.Helper()
	code, body := r.get("/api/v1/fleet")
	var st fleet.Status
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		r.t.Fatalf("/api/v1/fleet: %d %s", code, body)
	}
	return st
}

// TestReadmeFleet: the README's fleet commands are command lines ipvsd
// takes, and its tables of flags name every flag of the fleet.
func TestReadmeFleet(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(b)[strings.Index(string(b), "## Fleet"):]
	section = section[:strings.Index(section, "\n## ")]
	block := section[strings.Index(section, "```sh\n")+6:]
	block = block[:strings.Index(block, "```")]
	lines := 0
	for _, line := range strings.Split(block, "\n") {
		line, _, _ = strings.Cut(line, "#")
		if !strings.HasPrefix(line, "ipvsd ") {
			continue
		}
		app := kingpin.New("ipvsd", "")
		newDaemonCommand(app)
		newFleetCommands(app)
		if _, err := app.Parse(strings.Fields(line)[1:]); err != nil {
			t.Errorf("%s: %v", line, err)
		}
		lines++
	}
	if lines != 4 {
		t.Errorf("%d ipvsd command lines in the fleet section", lines)
	}
	app := kingpin.New("ipvsd", "")
	d := newDaemonCommand(app)
	for _, f := range d.cmd.Model().Flags {
		if strings.HasPrefix(f.Name, "etcd.") && !strings.Contains(section, "`--"+f.Name+"`") {
			t.Errorf("the fleet section does not document --%s", f.Name)
		}
	}
}
