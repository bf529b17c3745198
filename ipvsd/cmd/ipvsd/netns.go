package main

import (
	"path/filepath"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/ipvs-go/ipvs"
)

// defaultStateDir is where the daemon keeps what survives a restart
// (systemd's StateDirectory=ipvsd).
const defaultStateDir = "/var/lib/ipvsd"

// netnsFlag adds --netns to a command.
func netnsFlag(cmd *kingpin.CmdClause) *string {
	return cmd.Flag("netns", "The network namespace whose table to manage: a name under /var/run/netns (as \"ip netns add\" makes), "+
		"or a path such as /proc/PID/ns/net. Default: the daemon's own.").String()
}

// namespaceConfig returns the client configuration of the namespace ns
// names, or nil for the process's own.
func namespaceConfig(ns string) *ipvs.Config {
	if ns == "" {
		return nil
	}
	if !strings.Contains(ns, "/") {
		ns = filepath.Join("/var/run/netns", ns)
	}
	return &ipvs.Config{NetNSPath: ns}
}
