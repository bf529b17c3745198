package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ipvs-go/ipvs"
)

// namespace is one network namespace to export.
type namespace struct {
	label string // the netns label
	path  string // empty: the exporter's own
}

// netnsDir is where "ip netns add NAME" keeps its namespaces.
const netnsDir = "/var/run/netns"

// parseNamespaces reads the --netns values: a path (with a slash), a
// name under /var/run/netns, or "" for the exporter's own namespace. No
// value means the exporter's own only. Two with the same label are
// refused, since their series would collide.
func parseNamespaces(args []string) ([]namespace, error) {
	if len(args) == 0 {
		return []namespace{{}}, nil
	}
	seen := map[string]string{}
	var nss []namespace
	for _, a := range args {
		var ns namespace
		switch {
		case a == "":
		case strings.Contains(a, "/"):
			ns = namespace{label: filepath.Base(a), path: a}
			if ns.label == "/" || ns.label == "." {
				return nil, fmt.Errorf("--netns %q: the path names no namespace", a)
			}
		case a == "." || a == "..":
			return nil, fmt.Errorf("--netns %q: not a namespace name", a)
		default:
			ns = namespace{label: a, path: filepath.Join(netnsDir, a)}
		}
		if prev, dup := seen[ns.label]; dup {
			return nil, fmt.Errorf("--netns %q: its label %q is that of --netns %q too", a, ns.label, prev)
		}
		seen[ns.label] = a
		nss = append(nss, ns)
	}
	return nss, nil
}

// config returns the client configuration of the namespace.
func (ns namespace) config() *ipvs.Config {
	return &ipvs.Config{NetNSPath: ns.path}
}
