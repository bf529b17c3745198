// Package buildinfo describes a binary of this repository from what the
// go command recorded in it (runtime/debug.ReadBuildInfo): the version of
// its main module, the commit it was built from and that commit's time.
// ipvsctl, ipvs_exporter and ipvsd print it for --version, and the
// exporter labels its build_info with it, so that a binary built by
// "go install ...@v1.2.3", by make in a clone, or by a packager who set
// nothing at link time says the same thing in the same words.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// LibraryPath is the module path of the library, which each program
// requires; its version is reported beside the program's own.
const LibraryPath = "github.com/ipvs-go/ipvs"

// Info is what a build records of itself. Empty fields are unknown.
type Info struct {
	// Path is the main module's path, as github.com/ipvs-go/ipvs/exporter.
	Path string
	// Version is the main module's version: v1.2.3 from a go install of
	// a tag, a pseudo-version (with +dirty for a modified tree) from a
	// build in a clone with VCS stamping, "(devel)" when the go command
	// knew neither.
	Version string
	// Library is the version of the library module the program was built
	// against: empty when the program is the library's own module, and
	// "(devel)" when the library came from the same tree (a go.work or a
	// replace), which the commit then names.
	Library string
	// Revision is the commit, from vcs.revision.
	Revision string
	// Time is the commit's time in RFC 3339, from vcs.time.
	Time string
	// Modified is set when the work tree had changes (vcs.modified).
	Modified bool
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// Read returns the running binary's Info; a binary built without module
// support (none of this repository's) gives only the Go version.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{}
	}
	return From(bi)
}

// From returns the Info that bi records.
func From(bi *debug.BuildInfo) Info {
	if bi == nil {
		return Info{}
	}
	i := Info{Path: bi.Main.Path, Version: bi.Main.Version, GoVersion: bi.GoVersion}
	for _, d := range bi.Deps {
		if d.Path != LibraryPath {
			continue
		}
		if d.Replace != nil {
			d = d.Replace
		}
		// A module replaced by a directory has no version of its own.
		i.Library = d.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Revision = s.Value
		case "vcs.time":
			i.Time = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// VersionOrDevel is Version, or "(devel)" when the build recorded none
// (as a test binary does).
func (i Info) VersionOrDevel() string {
	if i.Version == "" {
		return "(devel)"
	}
	return i.Version
}

// RevisionLabel is Revision with "-modified" appended when the tree had
// changes, the form Prometheus' build_info carries in its revision label.
func (i Info) RevisionLabel() string {
	if i.Modified && i.Revision != "" {
		return i.Revision + "-modified"
	}
	return i.Revision
}

// Line is the one line --version prints for program, as
//
//	ipvsd v1.2.3 (commit 0123abcd4567 of 2026-12-04T23:53:16Z, modified; library v1.2.3) go1.26.8
//
// with the parenthesis left out when nothing in it is known.
func (i Info) Line(program string) string {
	var b strings.Builder
	b.WriteString(program)
	b.WriteString(" ")
	b.WriteString(i.VersionOrDevel())
	var notes []string
	if i.Revision != "" {
		c := "commit " + i.Revision[:min(len(i.Revision), 12)]
		if i.Time != "" {
			c += " of " + i.Time
		}
		if i.Modified {
			c += ", modified"
		}
		notes = append(notes, c)
	}
	if i.Library != "" && i.Library != "(devel)" {
		notes = append(notes, "library "+i.Library)
	}
	if len(notes) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(notes, "; "))
		b.WriteString(")")
	}
	if i.GoVersion != "" {
		b.WriteString(" ")
		b.WriteString(i.GoVersion)
	}
	return b.String()
}
