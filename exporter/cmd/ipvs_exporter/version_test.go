package main

import (
	"bufio"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/version"

	"github.com/ipvs-go/ipvs/internal/buildinfo"
)

// TestSetVersion checks what the build's information fills in, and that
// values the link set win, and that build_info reports them.
func TestSetVersion(t *testing.T) {
	saved := [...]string{version.Version, version.Revision, version.BuildDate}
	t.Cleanup(func() { version.Version, version.Revision, version.BuildDate = saved[0], saved[1], saved[2] })
	bi := &debug.BuildInfo{Main: debug.Module{Path: "github.com/ipvs-go/ipvs/exporter", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.time", Value: "2026-12-04T23:53:16Z"}, {Key: "vcs.modified", Value: "true"}}}
	version.Version, version.Revision, version.BuildDate = "", "", ""
	setVersion(buildinfo.From(bi))
	if version.Version != "v1.2.3" || version.Revision != "0123abcd-modified" || version.BuildDate != "2026-12-04T23:53:16Z" {
		t.Errorf("version %q, revision %q, date %q", version.Version, version.Revision, version.BuildDate)
	}
	rec := httptest.NewRecorder()
	metricsHandler(testConfig(1, time.Second), nil, slog.New(slog.DiscardHandler)).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `ipvs_exporter_build_info{branch="",build_date="2026-12-04T23:53:16Z",goarch=`
	var line string
	for l := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(l, "ipvs_exporter_build_info{") {
			line = l
		}
	}
	if !strings.HasPrefix(line, want) || !strings.Contains(line, `revision="0123abcd-modified"`) || !strings.Contains(line, `version="v1.2.3"`) {
		t.Errorf("build_info %q, want one with the build's version, revision and date", line)
	}

	version.Version, version.Revision, version.BuildDate = "v9", "linked", "today"
	setVersion(buildinfo.From(bi))
	if version.Version != "v9" || version.Revision != "linked" || version.BuildDate != "today" {
		t.Errorf("the build's information overrode the link's: %q, %q, %q", version.Version, version.Revision, version.BuildDate)
	}
}

// TestVersionFlag builds the binary, as a user would, and checks that
// --version reports the version and commit the go command recorded in it
// (go version -m): a commit in a clone, none in a git worktree (the go
// command reads no VCS there) or a tree outside git.
func TestVersionFlag(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	bin := filepath.Join(t.TempDir(), "ipvs_exporter")
	build := exec.Command(goCmd, "build", "-buildvcs=auto", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	info, err := exec.Command(goCmd, "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	var modVersion, revision string
	sc := bufio.NewScanner(strings.NewReader(string(info)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[0] == "mod":
			modVersion = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			revision = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	cmd := exec.Command(bin, "--version")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(stdout)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	if modVersion == "" || !strings.HasPrefix(string(out), "ipvs_exporter "+modVersion+" ") {
		t.Errorf("--version says\n%s\nwant the module's version %q", out, modVersion)
	}
	if revision != "" && !strings.Contains(string(out), "commit "+revision[:12]) {
		t.Errorf("--version says\n%s\nwant the revision %s", out, revision)
	}
	t.Logf("%s", out)
}
