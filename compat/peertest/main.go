// Command peertest builds the test suites of moby/ipvs and cloudflare/ipvs,
// taken from their modules at the versions the drop-ins of compat/ stand
// in for, against those drop-ins, without changing a line of the tests:
// one static test binary per package, to run in the VM, with the
// package's test data, if any, beside it as BINARY.testdata.tar (the
// tests read it from testdata/ in their working directory).
//
//	go run ./compat/peertest -peer moby -o build
//
// It builds them as a program that uses the peer would be built after the
// migration: a module that requires the peer and replaces it with the
// drop-in by module path and version, the line users write,
//
//	replace github.com/moby/ipvs => github.com/ipvs-go/ipvs/compat/moby VERSION
//
// The drop-in is served at a version of its own by a file-system module
// proxy made for the build, as a module zip that holds the drop-in's files
// and, beside them, the peer's test files and test data (the tests are
// internal to the peer's packages, so they must sit in the packages they
// test). The drop-in's own tests stay out; its peer_support_test.go, the
// helpers the peer's tests call besides the API, goes in.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// peer is a peer module and its drop-in.
type peer struct {
	module, version string // the peer, as users require it
	dir             string // the drop-in's directory in this repository
	compat          string // the drop-in's module path
	// binaries maps each package the peer tests, relative to its module
	// root, to the name of its test binary.
	binaries map[string]string
}

var peers = map[string]peer{
	"moby": {module: "github.com/moby/ipvs", version: "v1.1.0", dir: "compat/moby",
		compat: "github.com/ipvs-go/ipvs/compat/moby", binaries: map[string]string{".": "moby.peer.test"}},
	"cloudflare": {module: "github.com/cloudflare/ipvs", version: "v0.12.0", dir: "compat/cloudflare",
		compat:   "github.com/ipvs-go/ipvs/compat/cloudflare",
		binaries: map[string]string{".": "cloudflare.peer.test", "netmask": "cloudflare-netmask.peer.test"}},
}

func main() {
	name := flag.String("peer", "", "moby or cloudflare")
	out := flag.String("o", "build", "the directory of the test binaries")
	root := flag.String("root", ".", "the repository's root")
	flag.Parse()
	p, ok := peers[*name]
	if !ok {
		fmt.Fprintf(os.Stderr, "peertest: -peer is %q; want moby or cloudflare\n", *name)
		os.Exit(2)
	}
	if err := build(p, *root, *out); err != nil {
		fmt.Fprintln(os.Stderr, "peertest:", err)
		os.Exit(1)
	}
}

// build makes the proxy and the migrated module in a temporary directory
// and builds the peer's test binaries into out.
func build(p peer, root, out string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.HasPrefix(string(b), "module github.com/ipvs-go/ipvs\n") {
		return fmt.Errorf("%s is not the root of github.com/ipvs-go/ipvs", root)
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "peertest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	g := goTool{env: baseEnv(tmp)}
	peerDir, err := g.download(p.module + "@" + p.version)
	if err != nil {
		return err
	}
	version, err := writeProxy(filepath.Join(tmp, "proxy"), p, filepath.Join(root, p.dir), peerDir)
	if err != nil {
		return err
	}
	mod := filepath.Join(tmp, "migrated")
	if err := writeMigrated(mod, p, version, root, peerDir, &g); err != nil {
		return err
	}
	g.dir = mod
	for rel, bin := range p.binaries {
		pkg := p.module
		if rel != "." {
			pkg += "/" + rel
		}
		if _, err := g.run("test", "-c", "-o", filepath.Join(out, bin), pkg); err != nil {
			return err
		}
		if err := tarTestdata(filepath.Join(out, bin+".testdata.tar"), filepath.Join(peerDir, rel, "testdata")); err != nil {
			return err
		}
		fmt.Printf("peertest: built %s from %s@%s's tests on %s\n", filepath.Join(out, bin), pkg, p.version, p.dir)
	}
	return nil
}

// goTool runs the go command in dir with env.
type goTool struct {
	dir string
	env []string
}

func (g *goTool) run(args ...string) ([]byte, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir, cmd.Env, cmd.Stderr = g.dir, g.env, os.Stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
	}
	return b, nil
}

// download fetches module@version into the module cache and returns its
// directory.
func (g *goTool) download(mv string) (string, error) {
	b, err := g.run("mod", "download", "-json", mv)
	if err != nil {
		return "", err
	}
	var dl struct{ Dir string }
	if err := jsonDecode(b, &dl); err != nil || dl.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no directory in %s", mv, b)
	}
	return dl.Dir, nil
}

// baseEnv is the environment of every go command: the file-system proxy
// first, then the usual one; no checksum database for this repository's
// modules, which only that proxy serves; static binaries; the local
// toolchain; and no workspace.
func baseEnv(tmp string) []string {
	proxy := "https://proxy.golang.org,direct"
	if b, err := exec.Command("go", "env", "GOPROXY").Output(); err == nil && strings.TrimSpace(string(b)) != "" {
		proxy = strings.TrimSpace(string(b))
	}
	flags := "-mod=mod"
	if b, err := exec.Command("go", "env", "GOFLAGS").Output(); err == nil && strings.TrimSpace(string(b)) != "" {
		flags += " " + strings.TrimSpace(string(b))
	}
	nosum := "github.com/ipvs-go"
	if v := os.Getenv("GONOSUMDB"); v != "" {
		nosum += "," + v
	}
	return append(os.Environ(),
		"GOPROXY=file://"+filepath.ToSlash(filepath.Join(tmp, "proxy"))+","+proxy,
		"GONOSUMDB="+nosum, "GOFLAGS="+flags, "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOWORK=off")
}
