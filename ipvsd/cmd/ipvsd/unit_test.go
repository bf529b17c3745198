package main

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
)

// TestSystemdUnit: the unit asks for Type=notify with a watchdog, grants
// CAP_NET_ADMIN and nothing else, and its command line is one ipvsd
// takes.
func TestSystemdUnit(t *testing.T) {
	f, err := os.Open("../../systemd/ipvsd.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	settings := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[k] = append(settings[k], v)
		}
	}
	for k, want := range map[string]string{
		"Type": "notify", "AmbientCapabilities": "CAP_NET_ADMIN", "CapabilityBoundingSet": "CAP_NET_ADMIN",
		"NoNewPrivileges": "yes", "ExecReload": "/bin/kill -HUP $MAINPID",
	} {
		if got := settings[k]; len(got) != 1 || got[0] != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if len(settings["WatchdogSec"]) != 1 {
		t.Error("no WatchdogSec")
	}
	argv := strings.Fields(settings["ExecStart"][0])
	if argv[0] != "/usr/bin/ipvsd" {
		t.Errorf("ExecStart %q", argv)
	}
	app := kingpin.New("ipvsd", "")
	d := newDaemonCommand(app)
	cmd, err := app.Parse(argv[1:])
	if err != nil || cmd != d.cmd.FullCommand() {
		t.Fatalf("ExecStart's arguments: %q %v", cmd, err)
	}
	if *d.stateDir != "/var/lib/ipvsd" || (*d.listen)[0] != defaultListen {
		t.Errorf("state %s, listen %q: not where StateDirectory and RuntimeDirectory put them", *d.stateDir, *d.listen)
	}
}
