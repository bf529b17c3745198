package main

import (
	"github.com/prometheus/common/version"

	"github.com/ipvs-go/ipvs/internal/buildinfo"
)

// setVersion fills in what the landing page, the log and
// ipvs_exporter_build_info report (package version of prometheus/common)
// from what the go command recorded in the binary, where the link did not
// set it (-X): the module's version, the commit with "-modified" when the
// tree had changes, and the commit's time; --version prints the same,
// as ipvsctl and ipvsd do (package buildinfo).
func setVersion(i buildinfo.Info) {
	if version.Version == "" {
		version.Version = i.VersionOrDevel()
	}
	if version.Revision == "" {
		version.Revision = i.RevisionLabel()
	}
	if version.BuildDate == "" {
		version.BuildDate = i.Time
	}
}
