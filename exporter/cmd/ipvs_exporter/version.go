package main

import (
	"runtime/debug"

	"github.com/prometheus/common/version"
)

// setVersion fills in what --version, the landing page, the log and
// ipvs_exporter_build_info report (package version of prometheus/common)
// from what the go command recorded in the binary, where the link did not
// set it (-X): the module's version (v1.2.3 when built by go install
// ...@v1.2.3, a pseudo-version of the commit when built in a clone, or
// "(devel)" when the go command knew neither), the commit, with
// "-modified" when the tree had changes, and the commit's time.
func setVersion(bi *debug.BuildInfo) {
	if bi == nil {
		return
	}
	if version.Version == "" {
		version.Version = bi.Main.Version
	}
	var revision, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && revision != "" {
		revision += "-modified"
	}
	if version.Revision == "" {
		version.Revision = revision
	}
	if version.BuildDate == "" {
		version.BuildDate = at
	}
}
