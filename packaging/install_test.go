package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGoInstallFromProxy carries out the release procedure
// (scripts/release.sh) in a clone of this repository, serves the clone's
// modules through the module proxy protocol from a directory (goproxy),
// and then, as a user outside the repository would, with no replace and
// no workspace: go install's each program at the released version, and
// builds a module of its own that imports the exporter's collector.
func TestGoInstallFromProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the programs from a released copy")
	}
	// A version of its own for each run: the module cache keeps what it
	// downloaded of a version for good, and each run releases anew.
	version := fmt.Sprintf("v0.99.0-test.%d", time.Now().UnixNano())
	tmp := t.TempDir()
	clone := filepath.Join(tmp, "repo")
	run(t, "..", nil, "git", "clone", "--quiet", ".", clone)
	run(t, clone, nil, "git", "config", "user.email", "release@example.invalid")
	run(t, clone, nil, "git", "config", "user.name", "release test")
	run(t, clone, nil, "bash", "scripts/release.sh", version)
	tags := run(t, clone, nil, "git", "tag", "--list")
	for _, want := range []string{version, "exporter/" + version, "cmd/ipvsctl/" + version, "compat/moby/" + version,
		"compat/cloudflare/" + version, "ipvsd/" + version} {
		if !strings.Contains("\n"+tags+"\n", "\n"+want+"\n") {
			t.Errorf("no tag %s: %q", want, tags)
		}
	}
	proxy := filepath.Join(tmp, "proxy")
	run(t, ".", nil, filepath.Join(bin, "goproxy"), "-repo", clone, "-o", proxy)

	gobin := filepath.Join(tmp, "bin")
	user := []string{"GOPROXY=file://" + proxy + "," + goEnv(t, "GOPROXY"), "GONOSUMDB=github.com/ipvs-go",
		"GOWORK=off", "GOFLAGS=-modcacherw", "GOBIN=" + gobin, "CGO_ENABLED=0"}
	home := filepath.Join(tmp, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ pkg, name string }{
		{"github.com/ipvs-go/ipvs/cmd/ipvsctl", "ipvsctl"},
		{"github.com/ipvs-go/ipvs/exporter/cmd/ipvs_exporter", "ipvs_exporter"},
		{"github.com/ipvs-go/ipvs/ipvsd/cmd/ipvsd", "ipvsd"},
	} {
		run(t, home, user, "go", "install", p.pkg+"@"+version)
		out := run(t, home, nil, filepath.Join(gobin, p.name), "--version")
		if !strings.HasPrefix(out, p.name+" "+version+" (library "+version+")") {
			t.Errorf("%s --version: %q, want %s of library %s", p.name, out, version, version)
		}
	}

	consumer := filepath.Join(tmp, "consumer")
	if err := os.MkdirAll(consumer, 0o755); err != nil {
		t.Fatal(err)
	}
	main := `package main

import (
	"fmt"

	"github.com/ipvs-go/ipvs/exporter/collector"
)

func main() { fmt.Println(collector.LabelNames()) }
`
	if err := os.WriteFile(filepath.Join(consumer, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, consumer, user, "go", "mod", "init", "example.com/consumer")
	run(t, consumer, user, "go", "get", "github.com/ipvs-go/ipvs/exporter@"+version)
	run(t, consumer, user, "go", "mod", "tidy")
	run(t, consumer, user, "go", "build", "-o", filepath.Join(tmp, "consumer.bin"), ".")
	if out := run(t, consumer, nil, filepath.Join(tmp, "consumer.bin")); !strings.Contains(out, "protocol") {
		t.Errorf("the consumer printed %q", out)
	}
	gomod, err := os.ReadFile(filepath.Join(consumer, "go.mod"))
	if err != nil || strings.Contains(string(gomod), "replace") || !strings.Contains(string(gomod), "github.com/ipvs-go/ipvs "+version) {
		t.Errorf("the consumer's go.mod: %v\n%s", err, gomod)
	}
}

// run runs a command in dir, with env added to the test's, and returns
// its output; it fails the test if the command fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func goEnv(t *testing.T, name string) string {
	return strings.TrimSpace(run(t, ".", nil, "go", "env", name))
}
