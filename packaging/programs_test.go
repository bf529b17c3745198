package packaging

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// program is one of the repository's binaries, as the units and pages
// name it.
type program struct {
	name    string
	section string // of its manual page
	module  string // its module's directory, from the repository's root
	pkg     string // its package, from the module's directory
}

var programs = []program{
	{"ipvsctl", "8", "cmd/ipvsctl", "."},
	{"ipvs_exporter", "1", "exporter", "./cmd/ipvs_exporter"},
	{"ipvsd", "8", "ipvsd", "./cmd/ipvsd"},
}

// bin is where TestMain builds the programs and the manpage tool.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	if flag.Lookup("test.list").Value.String() != "" {
		os.Exit(m.Run()) // listing the tests (scripts/fuzz.sh) runs none
	}
	dir, err := os.MkdirTemp("", "packaging-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	code := 1
	if err := buildAll(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildAll builds each program as make release does (static, with the
// build's VCS information where there is a repository to read it from).
func buildAll() error {
	for _, p := range programs {
		if err := goBuild(filepath.Join("..", p.module), p.pkg, filepath.Join(bin, p.name)); err != nil {
			return err
		}
	}
	if err := goBuild(".", "./goproxy", filepath.Join(bin, "goproxy")); err != nil {
		return err
	}
	return goBuild(".", "./manpage", filepath.Join(bin, "manpage"))
}

func goBuild(dir, pkg, out string) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-buildvcs=auto", "-o", abs, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s: %v\n%s", pkg, dir, err, out)
	}
	return nil
}

// needTool returns the path of a command the test needs; without it the
// test skips, except in CI (CI=true), where .ci/run installs it and its
// absence is a failure.
func needTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: .ci/run installs Debian's %s", name, debianPackage)
	}
	t.Skipf("%s not found (Debian's %s)", name, debianPackage)
	return ""
}
