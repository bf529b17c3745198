package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromAndLine(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "-buildmode", Value: "exe"}, {Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123abcd4567890fedcba9876543210012345678"},
		{Key: "vcs.time", Value: "2026-12-04T23:53:16Z"}, {Key: "vcs.modified", Value: "true"}}
	for _, tc := range []struct {
		name     string
		program  string
		bi       *debug.BuildInfo
		line     string
		revision string
	}{{
		name: "go install of a tag", program: "ipvs_exporter",
		bi: &debug.BuildInfo{GoVersion: "go1.26.8",
			Main: debug.Module{Path: "github.com/ipvs-go/ipvs/exporter", Version: "v1.2.3"},
			Deps: []*debug.Module{{Path: "github.com/prometheus/common", Version: "v0.74.0"}, {Path: LibraryPath, Version: "v1.2.0"}}},
		line: "ipvs_exporter v1.2.3 (library v1.2.0) go1.26.8",
	}, {
		name: "make in a modified clone, library from the workspace", program: "ipvsd",
		bi: &debug.BuildInfo{GoVersion: "go1.26.8",
			Main:     debug.Module{Path: "github.com/ipvs-go/ipvs/ipvsd", Version: "v0.0.0-20261204235316-0123abcd4567+dirty"},
			Deps:     []*debug.Module{{Path: LibraryPath, Version: "(devel)"}},
			Settings: vcs},
		line:     "ipvsd v0.0.0-20261204235316-0123abcd4567+dirty (commit 0123abcd4567 of 2026-12-04T23:53:16Z, modified) go1.26.8",
		revision: "0123abcd4567890fedcba9876543210012345678-modified",
	}, {
		name: "library replaced by a version", program: "x",
		bi: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "example.com/x", Version: "(devel)"},
			Deps: []*debug.Module{{Path: LibraryPath, Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1"}}}},
		line: "x (devel) (library v1.0.1) go1.26.8",
	}, {
		name: "test binary", program: "x",
		bi:   &debug.BuildInfo{GoVersion: "go1.26.8"},
		line: "x (devel) go1.26.8",
	}, {
		name: "none", program: "x",
		line: "x (devel)",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			i := From(tc.bi)
			if got := i.Line(tc.program); got != tc.line {
				t.Errorf("Line:\n got %s\nwant %s", got, tc.line)
			}
			if got := i.RevisionLabel(); got != tc.revision {
				t.Errorf("RevisionLabel %q, want %q", got, tc.revision)
			}
		})
	}
}
