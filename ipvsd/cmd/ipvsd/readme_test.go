package main

import (
	"os"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ipvs-go/ipvs/ipvsd/config"
)

// TestReadmeQuickStart: the README's quick start writes a configuration
// that validates, and runs ipvsd with command lines it takes.
func TestReadmeQuickStart(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Quick start")
	block := readme[start:]
	block = block[strings.Index(block, "```sh\n")+6:]
	block = block[:strings.Index(block, "```")]
	yaml := block[strings.Index(block, "<<'EOF'\n")+8:]
	yaml = yaml[:strings.Index(yaml, "EOF\n")]
	c, err := config.Parse("README", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.VirtualServers) != 1 || len(c.VirtualServers[0].Backends()) != 2 {
		t.Errorf("the quick start's configuration: %+v", c.VirtualServers)
	}
	runs := 0
	lines := strings.Split(strings.ReplaceAll(block, "\\\n", " "), "\n")
	for _, line := range lines {
		line = strings.TrimPrefix(strings.TrimSpace(line), "sudo ")
		if !strings.HasPrefix(line, "/tmp/ipvsd ") {
			continue
		}
		line, _, _ = strings.Cut(line, "&")
		app := kingpin.New("ipvsd", "")
		daemon := newDaemonCommand(app)
		app.Command("check", "").Arg("file", "").Required().String()
		newPlanCommand(app)
		cmd, err := app.Parse(strings.Fields(line)[1:])
		if err != nil {
			t.Errorf("%s: %v", line, err)
		}
		if cmd == daemon.cmd.FullCommand() {
			runs++
		}
	}
	if runs != 1 {
		t.Errorf("%d runs of the daemon in the quick start", runs)
	}
}
